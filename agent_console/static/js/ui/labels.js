/* Codes in words: teams and expertise from the server's configuration (GET /api/agent/config),
 * caller types, intents and missing fields from the text tables; the text of an error answer. */
import { has as hasText, LANG, t } from "../i18n/index.js";

export const LABELS = {
  // Teams and expertise come from the routing file on the server (GET /api/agent/config,
  // loadRouting below): nothing of them is written here.
  team: {},
  expertise: {}
};
// Codes in words: teams and expertise from the server's configuration, the rest from the texts.
const LABEL_KEYS = { caller_type: "caller_", intent: "intent_", missing: "missing_" };
export function label(kind, value) {
  if (LABELS[kind]) return LABELS[kind][value] || String(value || "—");
  const key = LABEL_KEYS[kind] + value;
  return LABEL_KEYS[kind] && value && hasText(key) ? t(key) : String(value || "—");
}
export function errorText(err, fallback) {
  const m = err && (LANG === "en" && err.message_en ? err.message_en : err.message);
  return m || fallback || t("errorGeneric");
}
