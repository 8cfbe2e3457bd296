"""`primevault web` under hostile requests, sent as raw HTTP: every one refused with a 4xx and one line of JSON
naming what was wrong (never a 500, a traceback or an exception's text), the chain untouched, and the server still
serving, also after clients that hang up mid-request."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from web3 import Web3

from keeper.cli.web import DEFAULT_DIST
from keeper.web.server import WebSettings, serving_in_thread
from tests.python.conftest import Chain

Answer = tuple[int, str, bytes]
ACCOUNT = "0x" + "11" * 20  # any address: these queries are refused before it is read


def send(
    url: str, method: str, path: str, body: bytes = b"", content_type: str = "application/json", host: str = ""
) -> Answer:
    """Status, content type and body of one request sent as it is (no client-side encoding or checks); `host` for
    another Host header than the URL's."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    headers = {"Content-Type": content_type} | ({"Host": host} if host else {})
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def assert_refused(answer: Answer, status: int, message: str) -> None:
    code, content_type, body = answer
    assert code == status, (code, body[:300])
    assert content_type.startswith("application/json"), (content_type, body[:300])
    error = json.loads(body)["error"]
    assert message in error, error
    assert "\n" not in error and "Traceback" not in error and "Error:" not in error, error


@pytest.fixture
def served(chain: Chain) -> Iterator[str]:
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        yield url


def quotes(size: str = "1", horizon: str = "8") -> str:
    return f"/api/quotes?market=ETH-USD&side=buy&size={quote(size)}&horizon_hours={quote(horizon)}"


BAD_QUERIES = [
    (quotes("1e400"), "is larger than any token supply"),
    (quotes("NaN"), "is not a finite number"),
    (quotes("Infinity"), "is not a finite number"),
    (quotes("-0"), "must be greater than zero"),
    (quotes("0x10"), "is not a number"),
    (quotes("1e-400"), "has more than 18 decimal places"),
    (quotes("1" * 300), "is larger than any token supply"),
    (quotes("\u0661"), "size \u0661 is not a number"),  # ARABIC-INDIC DIGIT ONE, which Decimal reads as 1
    (quotes("\uff11"), "is not a number"),  # FULLWIDTH DIGIT ONE
    (quotes(horizon="NaN"), "horizon_hours NaN is not in 0..8760"),
    (quotes(horizon="1e400"), "horizon_hours 1e400 is not in 0..8760"),
    (quotes(horizon="0x10"), "horizon_hours '0x10' is not a number"),
    (quotes(horizon="\u0662"), "is not a number"),
    ("/api/quotes?market=%E2%82%AC&side=buy&size=1", "unknown market '\u20ac'"),
    ("/api/quotes?market=ETH-USD&side=%00&size=1", "is not buy or sell"),
    ("/api/quotes?%zz=%%&market", "unknown market ''"),
    ("/api/riskiest?limit=1.5", "limit '1.5' is not a whole number"),
    ("/api/riskiest?limit=NaN", "limit 'NaN' is not a whole number"),
    ("/api/riskiest?limit=1e400", "is not a whole number"),
    ("/api/riskiest?limit=%D9%A1", "is not a whole number"),
    ("/api/riskiest?limit=-1", "limit -1 is not in 0..100"),
    # Python's int and float skip underscores: these read as 10, where a size with one is refused
    ("/api/riskiest?limit=1_0", "limit '1_0' is not a whole number"),
    (quotes(horizon="1_0"), "horizon_hours '1_0' is not a number"),
    ("/api/portfolio?account=0x" + "g" * 40, "is not an address"),
    ("/api/portfolio?account=" + "0x12" * 1000, "is not an address"),
    ("/api/order-check?market=ETH-USD&side=buy&size=1", "account '' is not an address"),
    ("/api/portfolio?account=0x70997970c51812dc3a010c7d01b50e0d17dc79C8", "has a wrong checksum"),
    (f"/api/order-check?account={ACCOUNT}&market=ETH-USD&side=BUY&size=1", "side 'BUY' is not buy or sell"),
    (f"/api/order-check?account={ACCOUNT}&market=ETH-USD&side=buy", "size '' is not a number"),
    (f"/api/order-check?account={ACCOUNT}&market=ETH-USD&side=buy&size=NaN", "size NaN is not a finite number"),
    (f"/api/order-check?account={ACCOUNT}&market=ETH-USD&side=buy&size=1e10", "larger than any order can be"),
    (f"/api/order-check?account={ACCOUNT}&market=ETH-USD&side=buy&size=-1", "size -1 must be greater than zero"),
    # A name pasted by mistake is cut, not echoed back whole.
    (f"/api/order-check?account={ACCOUNT}&market={'X' * 5000}&side=buy&size=1", "unknown market '" + "X" * 40 + "...'"),
]


@pytest.mark.parametrize(("path", "message"), BAD_QUERIES)
def test_a_bad_query_is_a_400_naming_it(served: str, path: str, message: str) -> None:
    answer = send(served, "GET", path)
    assert_refused(answer, 400, message)
    assert len(answer[2]) < 1_000, "the query is not echoed back whole"


ERROR_STRING = Web3.keccak(text="Error(string)")[:4].hex()
BAD_EXPLANATIONS = [
    (b"", "the body is not JSON"),
    (b"not json", "the body is not JSON"),
    (b"\xff\xfe\x00\x01", "the body is not JSON"),
    (b"[" * 100_000, "the body is not JSON"),  # nested past what the JSON parser recurses into
    (b"[]", "the body is not a JSON object"),
    (b"null", "the body is not a JSON object"),
    (b'{"data": "0x1234"}', "action must be a string"),
    (b'{"action": {"a": 1}, "data": "0x1234"}', "action must be a string"),
    (b'{"action": 7, "data": "0x1234"}', "action must be a string"),
    (b'{"action": "withdraw", "data": 2}', "data must be the revert data"),
    (b'{"action": "withdraw", "data": "1234"}', "data must be the revert data"),
    (b'{"action": "withdraw", "data": "0x123"}', "data must be the revert data"),
    (b'{"action": "withdraw", "data": "0xzz"}', "data must be the revert data"),
    (b'{"action": "withdraw", "data": "0x1234", "symbol": 5}', "symbol must be a token symbol"),
    (b'{"action": "withdraw", "data": "0x1234", "symbol": ["WETH"]}', "symbol must be a token symbol"),
    (b'{"action": "withdraw", "data": "0x1234", "symbol": "DOGE"}', "unknown asset 'DOGE'"),
]


@pytest.mark.parametrize(("body", "message"), BAD_EXPLANATIONS)
def test_a_bad_explanation_request_is_a_400_naming_it(served: str, body: bytes, message: str) -> None:
    assert_refused(send(served, "POST", "/api/explain", body), 400, message)


@pytest.mark.parametrize(
    "data",
    [
        "0x" + ERROR_STRING,  # Error(string)'s selector with no argument
        "0x" + ERROR_STRING + "00" * 20,  # its argument cut short
        "0x" + ERROR_STRING + f"{32:064x}{2:064x}" + "fffe" + "00" * 30,  # a reason that is not UTF-8
    ],
)
def test_revert_data_that_does_not_decode_is_explained_as_unknown(served: str, data: str) -> None:
    """A known selector whose arguments do not decode is still revert data: named UnknownError, as data with an
    unknown selector is, not a failure of the server."""
    status, _, body = send(served, "POST", "/api/explain", json.dumps({"action": "withdraw", "data": data}).encode())
    assert status == 200
    assert json.loads(body) == {
        "name": "UnknownError",
        "message": f"withdraw failed: UnknownError(data={data}) [UnknownError]",
        "reason": f"UnknownError(data={data})",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("DELETE", "/api/quotes", 405, "Method Not Allowed: DELETE /api/quotes (it takes GET, HEAD)"),
        ("GET", "/api/explain", 405, "Method Not Allowed: GET /api/explain (it takes POST)"),
        ("PUT", "/config.json", 405, "Method Not Allowed: PUT /config.json"),
        ("GET", "/api/nothing", 404, "Not Found: GET /api/nothing"),
        ("GET", "/abi/..%2F..%2Fpyproject.json", 404, "no ABI named '../../pyproject'"),
        ("GET", "/abi/%00.json", 404, "no ABI named '\\x00'"),
        ("GET", "/assets/..%2F..%2F..%2Fpyproject.toml", 404, "Not Found"),
        ("GET", "/assets/%2e%2e/index.html", 404, "Not Found"),
    ],
)
def test_a_wrong_method_or_path_is_json_naming_it(
    served: str, method: str, path: str, status: int, message: str
) -> None:
    assert_refused(send(served, method, path), status, message)


def test_a_huge_body_is_refused_and_the_server_serves_on(served: str) -> None:
    assert_refused(send(served, "POST", "/api/explain", b"x" * (3 * 2**20)), 413, "Request Entity Too Large")
    assert send(served, "GET", "/config.json")[0] == 200


def test_a_negative_zero_horizon_is_zero(served: str) -> None:
    status, _, body = send(served, "GET", quotes(horizon="-0"))
    assert status == 200 and json.loads(body)["horizon_hours"] == 0 and "-0" not in body.decode()


def test_refused_requests_change_nothing_on_chain(chain: Chain, served: str) -> None:
    before = chain.w3.eth.block_number, chain.client(0).health(chain.account(1).address)
    for path, _ in BAD_QUERIES:
        send(served, "GET", path)
    for body, _ in BAD_EXPLANATIONS:
        send(served, "POST", "/api/explain", body)
    assert (chain.w3.eth.block_number, chain.client(0).health(chain.account(1).address)) == before


def test_clients_that_hang_up_mid_request_do_not_stop_the_server(served: str) -> None:
    parts = urlsplit(served)
    address = (parts.hostname or "", parts.port or 0)
    for partial in (
        b"GET /api/riskiest HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
        b'POST /api/explain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{"action"',  # body cut short
        b"GET /api/riskiest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # gone before the scan answers
        b"GET /api/quotes?market=ETH-USD&side=buy&size=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ):
        with socket.create_connection(address, timeout=5) as hung_up:
            hung_up.sendall(partial)
    assert send(served, "GET", "/api/riskiest?limit=1")[0] == 200
    assert send(served, "GET", quotes())[0] == 200


@pytest.mark.parametrize("path", ["/", "/config.json", "/assets/app.js", "/api/riskiest?limit=1", "/api/nothing"])
def test_no_page_of_another_site_may_frame_the_app_or_have_its_answers_sniffed(served: str, path: str) -> None:
    """The dev wallet signs without asking: a site that framed the app under a decoy could have its visitor click
    transactions through. And a JSON answer is never read as a script or a page of another type."""
    parts = urlsplit(served)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.getheader("X-Frame-Options") == "DENY"
    assert "frame-ancestors 'none'" in (response.getheader("Content-Security-Policy") or "")
    assert response.getheader("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("path", ["/", "/config.json", "/api/riskiest?limit=1", "/abi/PrimeVault.json"])
def test_a_name_that_is_not_this_machines_is_refused_as_dns_rebinding(served: str, path: str) -> None:
    """A page of attacker.example whose name is made to resolve to 127.0.0.1 (DNS rebinding) is of the same origin
    as the app for the browser: it could read /config.json (the RPC URL and any key in it) and call the API. Its
    requests carry its own name in Host: refused. The machine's own names and addresses are served."""
    port = urlsplit(served).port
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.nip.io:{port}"):
        assert_refused(send(served, "GET", path, host=host), 403, "is not this machine")
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        f"app.localhost:{port}",
        f"[::1]:{port}",
    ):
        assert send(served, "GET", path, host=host)[0] == 200, host
