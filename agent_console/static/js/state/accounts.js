/* The admins' Medewerkers view: who may see it, the rows of GET /api/admin/agents checked and
 * sorted, the form of a new account checked before it is sent, which changes a row offers (no
 * disabling or demoting yourself: the server refuses it too), the request of each change, and
 * which changes ask to be confirmed first. No DOM, no network. */

export const ROLES = ["advisor", "crisis", "supervisor", "admin", "privacy_officer"];
const TEAM = /^[a-z][a-z0-9_-]{1,39}$/;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Only admins manage accounts (the tab is hidden for everyone else). */
export function canManageAccounts(agent) {
  return !!agent && agent.role === "admin";
}

/** The rows of GET /api/admin/agents, checked (junk left out) and sorted by name; null if unusable. */
export function agentRows(body) {
  if (!body || !Array.isArray(body.agents)) return null;
  return body.agents
    .filter((a) => a && typeof a.id === "string" && typeof a.username === "string" && ROLES.indexOf(a.role) >= 0)
    .map((a) => ({
      id: a.id,
      username: a.username,
      name: typeof a.name === "string" ? a.name : a.username,
      role: a.role,
      teams: Array.isArray(a.teams) ? a.teams.filter((x) => typeof x === "string") : [],
      active: a.active === true,
      secondFactor: a.second_factor === true,
      lastLogin: typeof a.last_login === "string" ? a.last_login : null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name, "nl") || a.username.localeCompare(b.username));
}

/** Teams typed as "jeugd, crisis" (commas or spaces): the list, or null when one is not a team name. */
export function parseTeams(text) {
  const teams = String(text || "").split(/[\s,]+/).filter(Boolean);
  if (teams.length > 20 || !teams.every((x) => TEAM.test(x))) return null;
  return Array.from(new Set(teams));
}

/** The body of POST /api/admin/agents from the form, or the fields that are wrong (keys of texts). */
export function newAgent(form) {
  const errors = {};
  const username = String(form.username || "").trim();
  const name = String(form.name || "").trim().replace(/\s+/g, " ");
  const teams = parseTeams(form.teams);
  if (!USERNAME.test(username)) errors.username = "acBadUsername";
  if (!name || name.length > 120) errors.name = "acBadName";
  if (ROLES.indexOf(form.role) < 0) errors.role = "acBadRole";
  if (teams === null) errors.teams = "acBadTeams";
  if (Object.keys(errors).length) return { ok: false, errors };
  // No password: the server makes one and shows it once.
  return { ok: true, body: { username, name, role: form.role, teams } };
}

/** The changes a row offers to `me` (the logged-in admin): never disabling or demoting yourself. */
export function changesFor(row, me) {
  const self = !!me && row.id === me.id;
  const out = ["edit", "reset-password"];
  if (row.secondFactor) out.push("reset-2fa");
  if (row.active && !self) out.push("disable");
  if (!row.active) out.push("enable");
  return out;
}

/** Whether the role of this row may be changed by `me` (not your own). */
export function roleEditable(row, me) {
  return !(me && row.id === me.id);
}

/** Changes that end the agent's sessions or lock them out ask to be confirmed first. */
export function needsConfirm(change) {
  return change === "disable" || change === "reset-password" || change === "reset-2fa";
}

/** The request of one change: {path, body} for POST (the username in the path, encoded). */
export function changeRequest(username, change, value) {
  const base = "/api/admin/agents/" + encodeURIComponent(username) + "/";
  switch (change) {
    case "disable":
    case "enable":
      return { path: base + change, body: {} };
    case "reset-2fa":
      return { path: base + "reset-2fa", body: {} };
    case "reset-password":
      return { path: base + "reset-password", body: {} }; // the server makes the password
    case "role":
      return ROLES.indexOf(value) >= 0 ? { path: base + "role", body: { role: value } } : null;
    case "teams":
      return Array.isArray(value) ? { path: base + "teams", body: { teams: value } } : null;
    default:
      return null;
  }
}

/** The requests of the edit dialog: only what changed, role first. */
export function editRequests(row, role, teamsText) {
  const teams = parseTeams(teamsText);
  if (teams === null) return null;
  const out = [];
  if (role !== row.role) out.push(changeRequest(row.username, "role", role));
  const same = teams.length === row.teams.length && teams.every((x, i) => x === row.teams[i]);
  if (!same) out.push(changeRequest(row.username, "teams", teams));
  return out.filter(Boolean);
}
