"""SigV4 verification in `skylog serve --auth sigv4`: what CloudWatch answers for good and bad
signatures, unknown keys, clock skew and missing credentials, in each protocol."""

import json
import unittest
import xml.etree.ElementTree as ET

import skyharness as sh


class SigV4Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, auth="sigv4", access_key="AKIDSKYLOGTEST",
                                         secret_key="sekrit/key+1")

    def test_aws_cli_with_the_right_keys(self):
        sh.aws(self, self.srv, "logs", "create-log-group", "--log-group-name", "authed")
        out = sh.aws(self, self.srv, "logs", "describe-log-groups")
        self.assertIn("authed", [g["logGroupName"] for g in out["logGroups"]])
        sh.aws(self, self.srv, "cloudwatch", "put-metric-data", "--namespace", "A",
               "--metric-name", "m", "--value", "1")

    def test_aws_cli_with_wrong_keys(self):
        err = sh.aws(self, self.srv, "logs", "describe-log-groups", secret_key="wrong",
                     expect_error="InvalidSignatureException")
        self.assertIn("does not match", err)
        sh.aws(self, self.srv, "logs", "describe-log-groups", access_key="AKIDUNKNOWN",
               expect_error="UnrecognizedClientException")
        sh.aws(self, self.srv, "cloudwatch", "list-metrics", secret_key="wrong",
               expect_error="SignatureDoesNotMatch")
        sh.aws(self, self.srv, "cloudwatch", "list-metrics", access_key="AKIDUNKNOWN",
               expect_error="InvalidClientTokenId")

    def call(self, **kw):
        return sh.logs_call(self.srv, "DescribeLogGroups", {}, **kw)

    def test_raw_signed_requests(self):
        self.assertEqual(self.call().status, 200)
        r = self.call(sign=False)
        self.assertEqual((r.status, r.error_type), (400, "MissingAuthenticationTokenException"))
        r = self.call(secret_key="nope")
        self.assertEqual((r.status, r.error_type), (400, "InvalidSignatureException"))

    def test_clock_skew(self):
        self.assertEqual(self.call(clock_skew_s=-240).status, 200)
        r = self.call(clock_skew_s=-600)
        self.assertEqual((r.status, r.error_type), (400, "InvalidSignatureException"))
        self.assertRegex(r.json["message"],
                         r"^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
                         r"\(\d{8}T\d{6}Z - 5 min\.\)$")
        r = self.call(clock_skew_s=+600)
        self.assertEqual(r.error_type, "InvalidSignatureException")
        self.assertIn("Signature not yet current", r.json["message"])

    def test_tampered_body_and_wrong_service(self):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        req = AWSRequest(method="POST", url=self.srv.url + "/", data=b"{}", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
        SigV4Auth(Credentials(self.srv.access_key, self.srv.secret_key), "logs",
                  sh.REGION).add_auth(req)
        headers = dict(req.headers.items())
        r = sh.raw_request(self.srv, "POST", "/", b'{"limit": 1}', headers)
        self.assertEqual(r.error_type, "InvalidSignatureException")
        r = sh.raw_request(self.srv, "POST", "/", b"{}", headers)
        self.assertEqual(r.status, 200, r)
        r = sh.raw_request(self.srv, "POST", "/", b"{}", {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups"}, sign="monitoring")
        self.assertEqual(r.error_type, "InvalidSignatureException")
        self.assertIn("service", r.json["message"])

    def test_query_protocol_errors_are_403_xml(self):
        body = "Action=ListMetrics&Version=2010-08-01"
        r = sh.raw_request(self.srv, "POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded"}, sign="monitoring",
            secret_key="wrong")
        self.assertEqual(r.status, 403)
        code = ET.fromstring(r.body).find(
            "{http://monitoring.amazonaws.com/doc/2010-08-01/}Error/"
            "{http://monitoring.amazonaws.com/doc/2010-08-01/}Code").text
        self.assertEqual(code, "SignatureDoesNotMatch")
        r = sh.raw_request(self.srv, "POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded"}, sign="monitoring")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
