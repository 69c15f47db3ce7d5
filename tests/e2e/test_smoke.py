"""The pages load in a real browser, set no cookie and ask nothing of another host."""

from __future__ import annotations


async def test_demo_page_and_console_load_with_security_headers(web_server, context):
    ctx, log = context
    page = await ctx.new_page()
    response = await page.goto(web_server.url + "/")
    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    vendor = await page.request.get(web_server.url + "/static/vendor/socket.io.min.js")
    assert vendor.status == 200 and b"io" in await vendor.body()
    response = await page.goto(web_server.url + "/console")
    assert response.status == 200
    assert await ctx.cookies() == []
    assert log.foreign() == []
