/* The open crisis alerts (conversation id -> alert), as the server sends them: the whole list
 * in `crises` (and `sync`), one alert in `crisis_alert` (again each round until someone takes it
 * on), gone with `crisis_acked` or `crisis_ended`. No DOM here. */

export class CrisesState {
  constructor() {
    this.open = new Map();
  }

  get size() { return this.open.size; }
  has(id) { return this.open.has(id); }
  get(id) { return this.open.get(id); }
  ids() { return Array.from(this.open.keys()); }
  values() { return Array.from(this.open.values()); }

  /** The full list replaces what is known (keeping this console's busy/error marks). Returns
   * `{fresh, changed}`: alerts new or in a later round (so the alarm sounds), and every id that
   * was or is in the list (their queue cards are redrawn). Null for a bad list. */
  replace(data) {
    if (!data || !Array.isArray(data.open)) return null;
    const fresh = [];
    const next = new Map();
    data.open.forEach((a) => {
      if (!a || !a.conversation_id) return;
      const known = this.open.get(a.conversation_id);
      if (!known || (a.round || 1) > (known.round || 1)) fresh.push(a);
      next.set(a.conversation_id, Object.assign({}, a, known ? { busy: known.busy, error: known.error } : {}));
    });
    const changed = new Set([...this.open.keys(), ...next.keys()]);
    this.open = next;
    return { fresh, changed };
  }

  /** One alert (new, or a later round). Returns `{known, newer}` or null for a bad one. */
  alert(a) {
    if (!a || !a.conversation_id) return null;
    const known = this.open.get(a.conversation_id);
    const newer = !known || (a.round || 1) > (known.round || 1);
    this.open.set(a.conversation_id, Object.assign({}, known || {}, a));
    return { known: !!known, newer };
  }

  /** Someone took it on, or the conversation ended: true when it was open here. */
  close(id) {
    return this.open.delete(id);
  }
}
