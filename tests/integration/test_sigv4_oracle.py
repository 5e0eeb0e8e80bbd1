"""SigV4 oracle test: skylog's signer must agree byte for byte with botocore's SigV4Auth.

Generates a few hundred requests (methods, odd paths, repeated and unsorted query keys, empty
values, headers with extra spaces, repeated headers, session tokens, empty and large bodies,
presigned URLs), signs each one with botocore at a fixed time and with skylog's C signer
(tests/tools/sky_sigv4_tool), and compares canonical requests, string to sign and signatures.
Then it feeds botocore's signed request, as a server would receive it, to skylog's verification
primitive (sky_sigv4_parse_authorization + sky_sigv4_compute_signature) and checks that it
recomputes botocore's signature, and to sky_sigv4_verify(), which must accept it.

Skips (never fails) when botocore or the tool is not available.
"""
import datetime
import hashlib
import json
import os
import random
import subprocess
import unittest
from unittest import mock
from urllib.parse import quote, urlsplit

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    botocore = None

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
TOOL = os.path.join(BUILD, "tests", "tools", "sky_sigv4_tool")

SEGMENTS = ["a", "b c", "\u00e9t\u00e9", "\u65e5\u672c", "..", ".", "", "x%20y", "100%",
            "foo+bar", "~user", "a=b", "!$'()*,;:@", "CAPS", "dot.dot", "-_."]
QKEYS = ["b", "a", "A", "Action", "a b", "\u00e9", "x", "X-Amz-Meta", "k~"]
QVALS = ["", "1", "2 3", "\u00fc", "/path/", "a&b=c", "+", "~tilde", "%"]
HOSTS = [("https", "logs.us-east-1.amazonaws.com"), ("http", "127.0.0.1:4566"),
         ("https", "monitoring.eu-west-3.amazonaws.com"), ("http", "localhost:8080")]
SERVICES = ["logs", "monitoring", "sts", "execute-api"]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2"]
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+="


def enc(s):
    return quote(s, safe="-_.~")


def make_case(rng, i):
    scheme, host = rng.choice(HOSTS)
    presign = i % 5 == 4
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
    if presign:
        method = rng.choice(["GET", "PUT"])
    nseg = rng.randint(0, 6)
    path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(nseg))
    if rng.random() < 0.2:
        path += "/"
    if rng.random() < 0.1:
        path += "//"
    if i % 37 == 0:
        path = "/"
    # query as (key, value) pairs; presign needs unique keys (botocore keeps a dict)
    pairs = []
    for _ in range(rng.randint(0, 5)):
        k = rng.choice(QKEYS)
        if presign and any(k == p[0] for p in pairs):
            continue
        pairs.append((k, rng.choice(QVALS)))
    headers = []
    if method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
        headers.append(("X-Amz-Target", "Logs_20140328.PutLogEvents"))
    if rng.random() < 0.5:
        headers.append(("X-Custom", rng.choice(["  a   b  ", "plain", "\tt\tab ", "x  y  z", ""])))
    if rng.random() < 0.3:
        headers.append(("x-MiXeD-Case", "Value  With   Spaces"))
    if rng.random() < 0.3:
        headers.append(("X-Dup", "one"))
        headers.append(("x-dup", "  two  "))
    if rng.random() < 0.3:
        headers.append(("User-Agent", "skylog/0.1 (not signed)"))
    if rng.random() < 0.1 and not presign:
        headers.append(("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"))
    body = b""
    if not presign:
        kind = rng.random()
        if kind < 0.3:
            body = b""
        elif kind < 0.8:
            body = json.dumps({"logGroupName": "g", "n": i, "s": "\u00e9 x"}).encode()
        elif kind < 0.9:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        else:
            body = os.urandom(0) + bytes(rng.getrandbits(8) for _ in range(200_000))
    token = None
    if rng.random() < 0.5:
        token = "".join(rng.choice(TOKEN_CHARS) for _ in range(rng.randint(20, 400)))
    s3 = not presign and i % 10 == 7
    if s3:
        # S3 signs the path as it is (no normalisation, no second encoding) and always sends
        # X-Amz-Content-SHA256; drop the UNSIGNED-PAYLOAD variant, S3 computes its own
        headers = [h for h in headers if h[0] != "X-Amz-Content-SHA256"]
    return {
        "s3": s3, "scheme": scheme, "host": host, "method": method, "path": path, "pairs": pairs,
        "headers": headers, "body": body, "token": token, "presign": presign,
        "service": rng.choice(SERVICES), "region": rng.choice(REGIONS),
        "akid": "AKIDEXAMPLE%04d" % i, "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCY%04d" % i,
        "time": 1420070400 + rng.randint(0, 400_000_000), "expires": rng.choice([60, 3600, 604800]),
        "url_query": rng.random() < 0.4,
    }


def botocore_sign(case):
    creds = Credentials(case["akid"], case["secret"], case["token"])
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in case["pairs"])
    url = f'{case["scheme"]}://{case["host"]}{case["path"]}'
    if case["presign"]:
        auth = botocore.auth.SigV4QueryAuth(creds, case["service"], case["region"],
                                            expires=case["expires"])
        req = AWSRequest(method=case["method"], url=url, data=case["body"],
                         params=dict(case["pairs"]))
    else:
        cls = botocore.auth.S3SigV4Auth if case["s3"] else botocore.auth.SigV4Auth
        auth = cls(creds, "s3" if case["s3"] else case["service"], case["region"])
        if case["url_query"] and query:
            req = AWSRequest(method=case["method"], url=url + "?" + query, data=case["body"])
        else:
            req = AWSRequest(method=case["method"], url=url, data=case["body"],
                             params=list(case["pairs"]))
    for name, value in case["headers"]:
        req.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    captured = {}
    orig = auth.string_to_sign

    def sts(request, canonical_request):
        captured["canonical_request"] = canonical_request
        captured["string_to_sign"] = orig(request, canonical_request)
        return captured["string_to_sign"]

    auth.string_to_sign = sts
    now = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        auth.add_auth(req)
    captured["headers"] = list(req.headers.items())
    if case["presign"]:
        captured["url_query"] = urlsplit(req.url).query
        captured["signature"] = captured["url_query"].rsplit("X-Amz-Signature=", 1)[1]
    else:
        captured["authorization"] = req.headers["Authorization"]
        captured["signature"] = captured["authorization"].rsplit("Signature=", 1)[1]
    captured["host"] = botocore.auth._host_from_url(url)
    captured["query"] = query
    return captured


def tool_case(case, boto):
    headers = [[n, v] for n, v in case["headers"]]
    if case["s3"]:
        headers.append(["X-Amz-Content-SHA256", hashlib.sha256(case["body"]).hexdigest()])
    c = {
        "s3_path": case["s3"],
        "method": case["method"], "host": case["host"], "path": case["path"],
        "query": boto["query"], "headers": headers, "body_hex": case["body"].hex(),
        "akid": case["akid"], "secret": case["secret"], "token": case["token"],
        "region": case["region"], "service": "s3" if case["s3"] else case["service"],
        "time": case["time"],
        "presign": case["presign"], "expires": case["expires"],
    }
    if case["presign"]:
        q = dict(p.split("=", 1) for p in boto["url_query"].split("&"))
        c["verify"] = {
            "amz_date": q["X-Amz-Date"],
            "signed_headers": q["X-Amz-SignedHeaders"].replace("%3B", ";"),
            "headers": [["Host", boto["host"]]] + headers,
            "path": case["path"], "query": boto["url_query"], "presigned": True,
            "payload_hash": hashlib.sha256(case["body"]).hexdigest(),
        }
    else:
        hdrs = {n.lower(): v for n, v in boto["headers"]}
        payload_hash = hdrs.get("x-amz-content-sha256") or hashlib.sha256(case["body"]).hexdigest()
        c["verify"] = {
            "authorization": boto["authorization"], "amz_date": hdrs["x-amz-date"],
            "headers": [["Host", boto["host"]]] + [[n, v] for n, v in boto["headers"]],
            "path": case["path"], "query": boto["query"], "payload_hash": payload_hash,
        }
    return c


@unittest.skipIf(botocore is None, "botocore is not installed: SigV4 oracle test skipped")
@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built: SigV4 oracle test skipped")
class SigV4Oracle(unittest.TestCase):
    N = 300

    def test_against_botocore(self):
        rng = random.Random(20250101)
        cases = [make_case(rng, i) for i in range(self.N)]
        boto = [botocore_sign(c) for c in cases]
        lines = "".join(json.dumps(tool_case(c, b)) + "\n" for c, b in zip(cases, boto))
        proc = subprocess.run([TOOL], input=lines.encode(), capture_output=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        results = [json.loads(l) for l in proc.stdout.decode().splitlines()]
        self.assertEqual(len(results), len(cases))
        presigned = tokens = big = s3 = 0
        for i, (case, b, r) in enumerate(zip(cases, boto, results)):
            ctx = f"case {i}: {case['method']} {case['path']!r} pairs={case['pairs']!r}"
            self.assertNotIn("error", r, ctx)
            self.assertEqual(r["canonical_request"], b["canonical_request"], ctx)
            self.assertEqual(r["string_to_sign"], b["string_to_sign"], ctx)
            self.assertEqual(r["signature"], b["signature"], ctx)
            if case["presign"]:
                presigned += 1
                self.assertEqual(r["presigned_query"], b["url_query"], ctx)
            else:
                self.assertEqual(r["authorization"], b["authorization"], ctx)
                self.assertEqual(r["verify_parsed"]["signature"], b["signature"], ctx)
                self.assertEqual(r["verify_parsed"]["access_key_id"], case["akid"], ctx)
            # the server-side primitive recomputes botocore's signature from the received request
            self.assertNotIn("verify_error", r, ctx)
            self.assertEqual(r["verify_canonical"], b["canonical_request"], ctx)
            self.assertEqual(r["verify_signature"], b["signature"], ctx)
            # and the one-call check (sky_sigv4_verify) accepts it, a minute later
            self.assertEqual(r["verify_full"], "ok", f"{ctx}: {r.get('verify_full_message')}")
            tokens += case["token"] is not None
            s3 += case["s3"]
            big += len(case["body"]) > 100_000
        # the generator really exercised the interesting shapes
        self.assertGreaterEqual(presigned, 40)
        self.assertGreaterEqual(tokens, 100)
        self.assertGreaterEqual(big, 5)
        self.assertGreaterEqual(s3, 20)


if __name__ == "__main__":
    unittest.main()
