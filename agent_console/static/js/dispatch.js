/* Server event -> handler: every event the `/agent` namespace sends (docs/protocol.md) and the
 * one function that handles it, in one place. The handlers update the state and render. */
import { onCallbackOverdue, onTijdvakStarted } from "./ui/callbacks.js";
import { applyMine, onMessage, onNote, onRisk, onTyping, onVisitorLeft } from "./ui/conversations.js";
import { applyCrises, onCrisisAcked, onCrisisAlert, onCrisisEnded } from "./ui/crisis.js";
import { onOffer, onOfferWithdrawn } from "./ui/offer.js";
import { applyQueue } from "./ui/queue.js";
import { onOutcomeMissing, onReader, onSpoedMelding, onTakeOverDeclined, onTakeOverRequest, onTakenFromYou, onTakenOver, onVisitorPresence } from "./ui/takeover.js";
import { onTransferred } from "./ui/transfer-dialog.js";
import { onAgentStatus, onBoard, onReadAlongStopped, onWhisper } from "./ui/workplace.js";

export const HANDLERS = Object.freeze({
  queue: applyQueue,
  mine: applyMine,
  message: onMessage,
  note: onNote,
  typing: onTyping,
  visitor_left: onVisitorLeft,
  outcome_missing: onOutcomeMissing,
  visitor_presence: onVisitorPresence,
  spoed_melding: onSpoedMelding,
  risk: onRisk,
  crises: applyCrises,
  crisis_alert: onCrisisAlert,
  crisis_acked: onCrisisAcked,
  crisis_ended: onCrisisEnded,
  reader: onReader,
  take_over_request: onTakeOverRequest,
  take_over_declined: onTakeOverDeclined,
  taken_over: onTakenOver,
  taken_from_you: onTakenFromYou,
  transferred: onTransferred,
  offer: onOffer,
  offer_withdrawn: onOfferWithdrawn,
  tijdvak_started: onTijdvakStarted,
  callback_overdue: onCallbackOverdue,
  agent_status: onAgentStatus,
  board: onBoard,
  whisper: onWhisper,
  read_along_stopped: onReadAlongStopped
});
