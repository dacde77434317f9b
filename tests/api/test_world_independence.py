"""One world's work never holds up another world's requests (issue 16 item 4).

World A is made busy for as long as the test likes: the test holds A's store (as a long advance
does: one writer at a time) and a request of A's is sent meanwhile, which has to wait for it.
World B's requests must still be answered, whatever they are: authenticated API calls, control
calls, a new token. Before, handlers ran on the server's one event loop, so A's waiting request
held the loop and B's requests with it until A was done. Nothing here is timed: B is answered
while A is still held, or the test fails (the client's timeout only turns a hang into a failure).
"""

from __future__ import annotations

import threading

from support import https_client

from rapidata_sim.serving.worlds import Worlds, WorldsServer


def test_a_busy_world_does_not_hold_up_another():
    server = WorldsServer(Worlds(seed=5, speed=0)).start()
    a = https_client(server, ("independence-a", "a-secret"))
    b = https_client(server, ("independence-b", "b-secret"))
    a_world = server.worlds.get(server.worlds.for_client("independence-a", "a-secret"))
    waiting: list[int] = []
    # Both tokens known to the server first: a token it has not seen yet is looked up store by
    # store (``Worlds.for_token``), which waits for a busy store (O(1) token lookup is issue 16 item 5).
    assert a.get("/_sim/clock").status_code == b.get("/_sim/clock").status_code == 200
    try:
        with a_world.store.transaction():  # world A is busy until this block ends
            blocked = threading.Thread(target=lambda: waiting.append(a.get("/_sim/clock").status_code))
            blocked.start()
            blocked.join(0.5)
            assert waiting == []  # A's request waits for A ...
            # ... and B is answered meanwhile: its API, its control surface, a new token.
            assert b.get("/audience/global", timeout=30).status_code == 200
            assert b.post("/_sim/clock/advance", json={"seconds": 3600}, timeout=30).status_code == 200
            token = b.post("/connect/token", data={"grant_type": "client_credentials"},
                           auth=("independence-b", "b-secret"), timeout=30)
            assert token.status_code == 200
            assert waiting == []  # A was held all along
        blocked.join(30)
        assert waiting == [200]
    finally:
        a.close()
        b.close()
        server.stop()
