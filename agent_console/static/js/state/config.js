/* The configured values the console shows, as GET /api/agent/config answers them (teams,
 * expertise, phone numbers, hours): checked here, so the UI renders only what is well formed.
 * Nothing of them is written in the JavaScript. No DOM here. */

const named = (x) => !!x && typeof x.id === "string" && !!x.id && typeof x.name === "string";
const text = (x) => (typeof x === "string" && x ? x : null);

/** The config from an answer body, or null when it lacks the teams or expertise lists. */
export function parseConfig(body) {
  if (!body || !Array.isArray(body.teams) || !Array.isArray(body.expertise)) return null;
  const phone = body.phone && typeof body.phone === "object" ? body.phone : {};
  return {
    teams: body.teams.filter(named).map((x) => ({ id: x.id, name: x.name, crisis: x.crisis === true })),
    expertise: body.expertise.filter(named).map((x) => ({ id: x.id, name: x.name })),
    phone: { advice: text(phone.advice), emergency: text(phone.emergency) },
    chatHours: text(body.chat_hours),
    callbackHours: text(body.callback_hours),
    timezone: text(body.timezone)
  };
}

/** id -> name, for showing a code in words. */
export function namesById(list) {
  const out = {};
  list.forEach((x) => { out[x.id] = x.name; });
  return out;
}
