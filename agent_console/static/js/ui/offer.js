/* A push offer: a waiting chat offered to this advisor, to accept or let pass, with its countdown
 * (state/offers.js keeps the timing). */
import { t } from "../i18n/index.js";
import * as actions from "../actions.js";
import * as offers from "../state/offers.js";
import { S, convs, queue } from "../state/session.js";
import { announce, beep, flashTitle } from "./attention.js";
import { $, el, setText } from "./dom.js";
import { errorText, label, LABELS } from "./labels.js";
import { showNotice } from "./notice.js";
import { acceptErrorText, openAccepted } from "./queue.js";
import { waited } from "./time.js";
import { currentView } from "./views.js";

// ---- push offers: a waiting chat offered to this advisor, to accept or let pass -------

const OFFER_NOTICE_MS = 8000;

export function expertiseLabel(code) {
  return (LABELS.expertise && LABELS.expertise[code]) || String(code).replace(/_/g, " ");
}
function offerWhat(o) {
  const parts = [label("caller_type", o.caller_type), label("intent", o.intent)];
  if (o.danger_now) parts.push(t("offerDanger"));
  if (o.topic) parts.push(String(o.topic));
  return parts.join(", ");
}

export function onOffer(o) {
  if (!o || typeof o.conversation_id !== "string" || !o.conversation_id) return;
  const known = convs.get(o.conversation_id);
  if (known && known.status === "active") return; // ours already
  if (S.offer && S.offer.id === o.conversation_id && S.offer.busy) return;
  S.offer = offers.makeOffer(o, Date.now(), queue.has(o.conversation_id));
  renderOffer();
  announce(t("offerAnnounce", { what: offerWhat(o) }));
  beep();
  if (document.hidden || !document.hasFocus()) flashTitle(t("offerFlash"));
}

export function onOfferWithdrawn(d) {
  if (!d || !S.offer || d.conversation_id !== S.offer.id) return;
  const texts = { taken: "offerTaken", ended: "offerGone" };
  voidOffer(t(texts[d.reason] || "offerExpired"));
}

export function checkOfferInQueue() {
  if (!S.offer || !offers.goneFromQueue(S.offer, queue.has(S.offer.id))) return;
  const c = convs.get(S.offer.id);
  voidOffer(c && c.status === "active" ? "" : t("offerGone")); // taken from the queue by us: nothing to say
}

// The offer is over. While an answer of ours is on its way, that answer decides what to say.
function voidOffer(text) {
  if (!S.offer) return;
  if (S.offer.busy) { S.offer.voided = text; return; }
  dropOffer();
  if (text) showNotice(text, OFFER_NOTICE_MS);
}

function dropOffer() {
  S.offer = null;
  renderOffer();
}

function renderOffer() {
  const box = $("offer");
  if (!S.offer) {
    const focused = box.contains(document.activeElement);
    box.hidden = true;
    delete box.dataset.conversationId;
    if (focused) focusAfterOffer();
    return;
  }
  const o = S.offer.data;
  box.dataset.conversationId = S.offer.id;
  box.classList.toggle("offer-danger", !!o.danger_now);
  const sum = $("offer-summary");
  sum.textContent = "";
  if (o.danger_now) { sum.appendChild(el("span", "badge badge-danger", t("offerDanger"))); sum.appendChild(document.createTextNode(" ")); }
  sum.appendChild(el("span", "offer-who", label("caller_type", o.caller_type)));
  sum.appendChild(document.createTextNode(" · "));
  sum.appendChild(el("span", "offer-intent", label("intent", o.intent)));
  const topic = $("offer-topic");
  setText(topic, o.topic ? String(o.topic) : "");
  topic.hidden = !o.topic;
  setText($("offer-team"), label("team", o.team));
  const exp = Array.isArray(o.expertise) ? o.expertise : [];
  setText($("offer-expertise"), exp.length ? exp.map(expertiseLabel).join(", ") : t("offerNone"));
  box.querySelector(".offer-countdown").hidden = !S.offer.trusted;
  // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
  ["offer-accept", "offer-pass"].forEach(function (id) {
    if (S.offer.busy) $(id).setAttribute("aria-disabled", "true"); else $(id).removeAttribute("aria-disabled");
  });
  box.hidden = false;
  tickOffer();
}

function focusAfterOffer() {
  if (currentView === "callbacks") { $("cb-title").focus(); return; }
  const c = S.activeId && convs.get(S.activeId);
  if (c && c.status === "active") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
  else $("queue-title").focus();
}

function tickOffer() {
  if (!S.offer) return;
  setText($("offer-waited"), waited(S.offer.data.waiting_since));
  const now = offers.tick(S.offer, Date.now());
  const cd = $("offer-countdown");
  setText(cd, offers.mmss(now.left));
  cd.setAttribute("datetime", "PT" + now.left + "S");
  if (now.warn) announce(t("offerSoon"));
  if (now.expired) voidOffer(S.offer.trusted ? t("offerExpired") : "");
}
setInterval(tickOffer, 1000);

async function answerOffer(event) {
  if (!S.offer || S.offer.busy) return;
  const mine = S.offer;
  mine.busy = true;
  renderOffer();
  let res;
  try { res = await actions.answerOffer(event, { conversation_id: mine.id }); } catch (e) {
    mine.busy = false;
    if (S.offer !== mine) return;
    // Not sent: the offer stands (the server lets it run out), so it may be tried again.
    if (mine.voided !== null) { voidOffer(mine.voided); return; }
    renderOffer();
    showNotice(t("offline"), OFFER_NOTICE_MS);
    return;
  }
  mine.busy = false;
  if (S.offer === mine) dropOffer();
  const err = actions.errorOf(res);
  if (err) {
    const text = event === "accept" ? acceptErrorText(err)
      : err.code === "conflict" ? t("offerNotOffered") : errorText(err);
    showNotice(text, OFFER_NOTICE_MS);
    return;
  }
  if (event === "accept" && res.conversation) openAccepted(res.conversation);
  else if (event === "pass") announce(t("offerPassed"));
}
$("offer-accept").addEventListener("click", function () { answerOffer("accept"); });
$("offer-pass").addEventListener("click", function () { answerOffer("pass"); });
