"""The render cache renders a key once, however many requests ask for it at the same moment."""

from __future__ import annotations

import threading

from service.web.cache import RenderCache


def test_concurrent_requests_for_one_new_page_render_it_once():
    cache, calls, started, release = RenderCache(), [], threading.Event(), threading.Event()

    def make() -> bytes:
        calls.append(1)
        started.set()
        release.wait(10)
        return b"page"

    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(cache.value("page", "v1", make))) for _ in range(8)]
    threads[0].start()
    started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [b"page"] * 8 and len(calls) == 1
    assert cache.value("page", "v2", lambda: b"new") == b"new"  # a new version renders again
