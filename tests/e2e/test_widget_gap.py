"""A hole in the widget's seqs is filled at once (issue 12): when a live `message` arrives whose
seq is beyond the next one, the widget asks `resume` from its last contiguous seq straight away,
without waiting for a reconnect. One live event is dropped on purpose in the browser by a small
test hook around the Socket.IO client's `on("message")` (our server is not mocked)."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_widget import agent_says, an_agent, answer_intake, new_waiting, open_widget

DROPPED = "Dit bericht valt onderweg weg."

# Wraps `io()` once the vendor script defines it: the first live `message` with the text DROPPED
# never reaches the widget's handler, and every `resume` the widget sends is recorded.
HOOK = """(() => {
  let real;
  window.__vtResumes = [];
  Object.defineProperty(window, 'io', { configurable: true, get() { return real; }, set(v) {
    real = function () {
      const s = v.apply(this, arguments);
      const on = s.on.bind(s), emit = s.emit.bind(s);
      s.on = function (ev, fn) {
        if (ev !== 'message') return on(ev, fn);
        return on(ev, function (m) {
          if (m && m.text === DROPPED_TEXT && !window.__vtDropped) { window.__vtDropped = true; return; }
          return fn.apply(this, arguments);
        });
      };
      s.emit = function (ev, data) {
        if (ev === 'resume') window.__vtResumes.push(data.after_seq);
        return emit.apply(s, arguments);
      };
      return s;
    };
    Object.assign(real, v);
  } });
})();""".replace("DROPPED_TEXT", repr(DROPPED))


async def test_a_missed_live_message_is_fetched_at_once(web_server, context):
    ctx, _ = context
    agent = await an_agent(web_server)
    page: Any = await ctx.new_page()
    await page.add_init_script(HOOK)
    known = {w["conversation_id"] for q in agent.events.get("queue", []) for w in q["waiting"]}
    await open_widget(page, web_server.url)
    await answer_intake(page, "Ik ben een jongere", "Ik wil advies of iets vragen")
    conv = (await new_waiting(agent, known))["conversation_id"]
    await agent.call("accept", {"conversation_id": conv})
    await page.get_by_text("Je praat nu met Sanne.").first.wait_for()
    first = await agent_says(agent, conv, "Eerste bericht.")
    await page.get_by_text("Eerste bericht.").wait_for()
    assert await page.evaluate("window.__vtResumes") == []  # a new chat: no resume so far
    await agent_says(agent, conv, DROPPED)
    await agent_says(agent, conv, "Derde bericht.")
    # The third shows the hole; the widget fetches the second at once and shows all in order.
    await page.get_by_text(DROPPED).wait_for(timeout=3000)
    assert await page.evaluate("window.__vtDropped") is True
    texts = await page.locator(".vtw-log .vtw-text").all_inner_texts()
    assert texts == ["Eerste bericht.", DROPPED, "Derde bericht."]
    assert await page.evaluate("window.__vtResumes") == [first["seq"]]
    assert await page.locator(".vtw-log .vtw-msg").count() == 3  # each once
    await agent.disconnect()
