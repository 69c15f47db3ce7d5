/* Feedback on risk signals in the chat log: under a visitor message, the concepts its risk
 * signal named, each with "Klopt niet", and a quiet "Risico gemist" on every visitor message.
 * The buttons are there from the start (no layout jump when hovering or focusing); the answer is
 * confirmed through the aria-live announcer. Sent as `risk_feedback` (docs/protocol.md). */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import { feedbackPayload, firedConcepts, markKey, riskSeq } from "../state/risk.js";
import { announce } from "./attention.js";
import { el } from "./dom.js";
import { errorText } from "./labels.js";

// Per conversation: seq -> the concepts its signal named; and the marks sent from this console.
const fired = new Map();
const marked = new Set();

function firedOf(conversationId) {
  let m = fired.get(conversationId);
  if (!m) { m = new Map(); fired.set(conversationId, m); }
  return m;
}

/** A `risk` event: remember its concepts for the message (also while the conversation waits in
 * the queue, so they show once it is accepted), and show them if the message is on screen. */
export function showRisk(c, r) {
  const seq = riskSeq(r);
  if (seq === null || !r.conversation_id) return;
  firedOf(r.conversation_id).set(seq, firedConcepts(r));
  const li = c && c.panel && c.panel.querySelector('.log li.msg-visitor[data-seq="' + seq + '"]');
  if (li) renderFeedback(c, li, seq);
}

/** Adds the feedback controls to a visitor message's list item. */
export function decorateMessage(c, li, m) {
  if (!m || m.sender !== "visitor" || !Number.isInteger(m.seq)) return;
  // A conversation read from the server (accept, history) carries each message's signal.
  if (m.risk && !firedOf(c.id).has(m.seq)) firedOf(c.id).set(m.seq, firedConcepts(m.risk));
  renderFeedback(c, li, m.seq);
}

function markButton(c, seq, kind, concept) {
  const done = marked.has(c.id + "|" + markKey(seq, kind, concept));
  const b = el("button", "btn-link msg-fb-btn " + (kind === "wrong" ? "act-risk-wrong" : "act-risk-missed"),
    done ? t("riskFeedbackDone") : kind === "wrong" ? t("riskWrong") : t("riskMissed"));
  b.type = "button";
  b.dataset.kind = kind;
  if (concept) b.dataset.concept = concept;
  b.setAttribute("aria-label", kind === "wrong" ? t("riskWrongLabel", { concept }) : t("riskMissedLabel"));
  if (done) b.setAttribute("aria-disabled", "true");
  return b;
}

function renderFeedback(c, li, seq) {
  let box = li.querySelector(".msg-fb");
  if (!box) { box = el("div", "msg-fb"); li.appendChild(box); }
  box.textContent = "";
  const concepts = firedOf(c.id).get(seq) || [];
  if (concepts.length) {
    const list = el("ul", "msg-risk");
    list.setAttribute("aria-label", t("riskConceptsLabel"));
    concepts.forEach(function (x) {
      const item = el("li", "msg-risk-item");
      item.appendChild(el("span", "risk-chip" + (x.level === "acuut" ? " risk-chip-acute" : ""), x.concept + (x.level ? " · " + x.level : "")));
      item.appendChild(markButton(c, seq, "wrong", x.concept));
      list.appendChild(item);
    });
    box.appendChild(list);
  }
  box.appendChild(markButton(c, seq, "missed", null));
}

/** One listener per conversation log: the feedback buttons of its messages. */
export function bindFeedback(c, log) {
  log.addEventListener("click", function (e) {
    const b = e.target.closest(".msg-fb-btn");
    if (!b || b.getAttribute("aria-disabled") === "true") return;
    send(c, b);
  });
}

async function send(c, b) {
  // The seq is the message's own (its list item's data-seq), not copied onto the button.
  const seq = Number(b.closest(".msg-visitor").dataset.seq), kind = b.dataset.kind, concept = b.dataset.concept || null;
  b.setAttribute("aria-disabled", "true");
  let res;
  try {
    res = await actions.riskFeedback(feedbackPayload(c.id, seq, kind, concept));
  } catch {
    b.removeAttribute("aria-disabled");
    announce(t("riskFeedbackOffline"));
    return;
  }
  const err = actions.errorOf(res);
  if (err) {
    b.removeAttribute("aria-disabled");
    announce(errorText(err, t("riskFeedbackFailed")));
    return;
  }
  marked.add(c.id + "|" + markKey(seq, kind, concept));
  b.textContent = t("riskFeedbackDone");
  announce(kind === "wrong" ? t("riskWrongSent", { concept }) : t("riskMissedSent"));
}
