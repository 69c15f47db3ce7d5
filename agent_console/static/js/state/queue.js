/* The waiting queue as the server sends it (`queue` event, `sync` answer): no DOM here.
 * Snapshots carry a version; an older one (from another process) never replaces a newer one.
 * The order is the server's (priority, then waiting time): the console never re-sorts it. */

export class QueueState {
  constructor() {
    this.version = -1;
    this.items = [];
  }

  /** Takes a snapshot `{version, waiting}`. Returns null when it is refused (bad or older),
   * else `{fresh, danger}`: the items not in the previous snapshot, and whether one is in danger. */
  apply(q) {
    if (!q || !Array.isArray(q.waiting)) return null;
    if (typeof q.version === "number") {
      if (q.version < this.version) return null;
      this.version = q.version;
    }
    const before = new Set(this.items.map((i) => i.conversation_id));
    this.items = q.waiting;
    const fresh = this.items.filter((i) => !before.has(i.conversation_id));
    return { fresh, danger: fresh.some((i) => !!i.danger_now) };
  }

  has(id) {
    return this.items.some((i) => i.conversation_id === id);
  }

  ids() {
    return this.items.map((i) => i.conversation_id);
  }
}

/** What a queue card shows that may change: a card is rebuilt only when this changes. */
export function itemSig(item) {
  return item.priority + "|" + !!item.overflow + "|" + !!item.in_crisis + "|" + (item.visitor_present !== false);
}
