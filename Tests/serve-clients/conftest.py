import pytest

from serveproc import Server

API_KEY = "sk-tessera-test"


@pytest.fixture(scope="session")
def server():
    s = Server("--parallel", "4", "--ctx", "512", "--queue", "16", "--read-timeout", "2", api_key=API_KEY)
    yield s
    assert s.stop() == 0, "".join(s.log[-20:])
