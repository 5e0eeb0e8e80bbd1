"""Tags on log groups in `skylog serve`: TagResource, UntagResource, ListTagsForResource, the
deprecated TagLogGroup, UntagLogGroup, ListTagsLogGroup, and CreateLogGroup's `tags`, through
boto3 and the AWS CLI, with the API model's limits (50 tags, key 1-128 and value 0-256
characters of the model's patterns, the reserved `aws:` prefix) and persistence across a
restart and an older database. When moto is importable, the same boto3 sequence runs against
moto's server and the answers' shapes (members and error codes, not limit errors, where moto
is lax) are compared.
"""

import logging
import os
import socket
import sqlite3
import unittest
import uuid

import skyharness as sh

try:
    from botocore.exceptions import ClientError
except ImportError:  # boto3 absent: the boto3 tests skip (sh.boto3_client)
    ClientError = Exception

try:
    from moto.server import ThreadedMotoServer
except Exception:  # moto or Flask absent
    ThreadedMotoServer = None

ACCOUNT = "123456789012"  # serve's defaults (docs/SERVE.md), which its ARNs carry


def uniq(prefix="tags"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def group_arn(name, region=sh.REGION, account=ACCOUNT):
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def error_of(test, fn, **kw):
    """The ClientError `fn(**kw)` raises (the test fails if it succeeds)."""
    with test.assertRaises(ClientError) as cm:
        fn(**kw)
    return cm.exception.response


def code(test, fn, **kw):
    return error_of(test, fn, **kw)["Error"]["Code"]


class ServeTags(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def setUp(self):
        self.logs = sh.boto3_client(self, self.srv, "logs")

    def make_group(self, **kw):
        name = uniq()
        self.logs.create_log_group(logGroupName=name, **kw)
        return name

    def tags(self, name):
        return self.logs.list_tags_for_resource(resourceArn=group_arn(name))["tags"]

    def test_round_trip_overwrite_untag(self):
        g = self.make_group()
        self.assertEqual(self.tags(g), {})
        self.logs.tag_resource(resourceArn=group_arn(g), tags={"team": "obs", "env": "dev"})
        self.assertEqual(self.tags(g), {"team": "obs", "env": "dev"})
        # an existing key's value is replaced, others kept
        self.logs.tag_resource(resourceArn=group_arn(g), tags={"env": "prod", "empty": ""})
        self.assertEqual(self.tags(g), {"team": "obs", "env": "prod", "empty": ""})
        # keys absent are ignored; an empty tagKeys list is allowed (min 0)
        self.logs.untag_resource(resourceArn=group_arn(g), tagKeys=["team", "nosuch"])
        self.logs.untag_resource(resourceArn=group_arn(g), tagKeys=[])
        self.assertEqual(self.tags(g), {"env": "prod", "empty": ""})
        # the model's pattern admits letters, numbers and separators of any script
        self.logs.tag_resource(resourceArn=group_arn(g),
                               tags={"Zürich 東京 ٣": "ä b:c/d=e+f-g@h_i.j", "k": "x" * 256,
                                     "𝒳" * 64: "v"})  # 64 astral letters: 128 UTF-16 units
        self.assertEqual(self.tags(g)["Zürich 東京 ٣"], "ä b:c/d=e+f-g@h_i.j")

    def test_create_with_tags_and_describe_has_none(self):
        g = self.make_group(tags={"a": "1", "b": "2"})
        self.assertEqual(self.tags(g), {"a": "1", "b": "2"})
        self.assertEqual(self.logs.list_tags_log_group(logGroupName=g)["tags"],
                         {"a": "1", "b": "2"})
        found = self.logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"]
        self.assertEqual(len(found), 1)
        self.assertNotIn("tags", found[0])
        # the ARN DescribeLogGroups shows as logGroupArn is the one tagging takes
        self.assertEqual(found[0]["logGroupArn"], group_arn(g))
        self.assertEqual(self.tags(g), self.logs.list_tags_for_resource(
            resourceArn=found[0]["logGroupArn"])["tags"])

    def test_create_with_invalid_tags_creates_nothing(self):
        g = uniq()
        self.assertEqual(code(self, self.logs.create_log_group, logGroupName=g,
                              tags={"aws:x": "1"}), "InvalidParameterException")
        self.assertEqual(code(self, self.logs.create_log_group, logGroupName=g,
                              tags={f"k{i}": "v" for i in range(51)}),
                         "InvalidParameterException")
        self.assertEqual(self.logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"], [])

    def test_fifty_tag_limit(self):
        g = self.make_group()
        arn = group_arn(g)
        self.logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
        self.assertEqual(len(self.tags(g)), 50)
        # overwriting keys already set does not count them twice
        self.logs.tag_resource(resourceArn=arn, tags={f"k{i}": "w" for i in range(50)})
        # one more makes 51: refused, nothing changed
        err = error_of(self, self.logs.tag_resource, resourceArn=arn,
                       tags={"k0": "changed", "new": "v"})
        self.assertEqual(err["Error"]["Code"], "TooManyTagsException")
        self.assertEqual(err["resourceName"], arn)
        self.assertEqual(self.tags(g), {f"k{i}": "w" for i in range(50)})
        # 51 in one request breaks the model's map limit first
        self.assertEqual(code(self, self.logs.tag_resource, resourceArn=arn,
                              tags={f"x{i}": "v" for i in range(51)}),
                         "InvalidParameterException")
        # the deprecated TagLogGroup has no TooManyTagsException in its model
        self.assertEqual(code(self, self.logs.tag_log_group, logGroupName=g, tags={"new": "v"}),
                         "InvalidParameterException")
        self.logs.untag_resource(resourceArn=arn, tagKeys=["k0"])
        self.logs.tag_resource(resourceArn=arn, tags={"new": "v"})
        self.assertEqual(len(self.tags(g)), 50)

    def test_invalid_keys_and_values(self):
        g = self.make_group()
        arn = group_arn(g)
        # boto3 checks lengths itself, so these go on the wire raw: the server's checks
        bad = [({"": "v"}, "length greater than or equal to 1"),
               ({"k" * 129: "v"}, "length less than or equal to 128"),
               ({"𝒳" * 65: "v"}, "length less than or equal to 128"),  # 130 UTF-16 units
               ({"a*b": "v"}, "regular expression pattern"),
               ({"a\tb": "v"}, "regular expression pattern"),
               ({"emoji😀": "v"}, "regular expression pattern"),
               ({"aws:x": "v"}, "reserved"), ({"AWS:x": "v"}, "reserved"),
               ({"k": "v" * 257}, "length less than or equal to 256"),
               ({"k": "semi;colon"}, "regular expression pattern"),
               ({"k": "nul\u0000"}, "regular expression pattern")]
        for tags, why in bad:
            with self.subTest(tags=repr(tags)[:60]):
                for op, body in [("TagResource", {"resourceArn": arn, "tags": tags}),
                                 ("TagLogGroup", {"logGroupName": g, "tags": tags}),
                                 ("CreateLogGroup", {"logGroupName": uniq(), "tags": tags})]:
                    r = sh.logs_call(self.srv, op, body)
                    self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"),
                                     r.body)
                    self.assertIn(why, r.json["message"])
        for keys in (["bad*key"], [""], ["aws:k"], [f"k{i}" for i in range(51)]):
            r = sh.logs_call(self.srv, "UntagResource", {"resourceArn": arn, "tagKeys": keys})
            self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"), r.body)
        self.assertEqual(self.tags(g), {})

    def test_arns(self):
        g = self.make_group()
        cases = [
            (group_arn(g) + ":*", "InvalidParameterException"),  # outside the ARN pattern
            ("not-an-arn", "InvalidParameterException"),
            ("arn:aws:logs:us-east-1:123456789012", "InvalidParameterException"),
            ("arn:aws:s3:::bucket", "InvalidParameterException"),
            (group_arn(uniq("absent")), "ResourceNotFoundException"),
            (group_arn(g, region="eu-west-1"), "ResourceNotFoundException"),
            (group_arn(g, account="210987654321"), "ResourceNotFoundException"),
            (f"arn:aws:logs:{sh.REGION}:{ACCOUNT}:destination:d", "ResourceNotFoundException"),
            (group_arn(g) + ":log-stream:s", "ResourceNotFoundException"),
        ]
        for arn, want in cases:
            with self.subTest(arn=arn):
                self.assertEqual(code(self, self.logs.list_tags_for_resource, resourceArn=arn),
                                 want)
                self.assertEqual(code(self, self.logs.tag_resource, resourceArn=arn,
                                      tags={"a": "b"}), want)
                self.assertEqual(code(self, self.logs.untag_resource, resourceArn=arn,
                                      tagKeys=["a"]), want)
        self.assertEqual(self.tags(g), {})

    def test_deprecated_operations(self):
        g = self.make_group()
        self.logs.tag_log_group(logGroupName=g, tags={"a": "1", "b": "2"})
        self.assertEqual(self.logs.list_tags_log_group(logGroupName=g)["tags"],
                         {"a": "1", "b": "2"})
        self.logs.untag_log_group(logGroupName=g, tags=["a"])
        self.assertEqual(self.tags(g), {"b": "2"})
        absent = uniq("absent")
        for fn, kw in [(self.logs.tag_log_group, {"tags": {"a": "b"}}),
                       (self.logs.untag_log_group, {"tags": ["a"]}),
                       (self.logs.list_tags_log_group, {})]:
            self.assertEqual(code(self, fn, logGroupName=absent, **kw),
                             "ResourceNotFoundException")
        self.assertEqual(code(self, self.logs.tag_log_group, logGroupName="bad name",
                              tags={"a": "b"}), "InvalidParameterException")

    def test_tags_deleted_with_group(self):
        g = self.make_group(tags={"a": "1"})
        self.logs.delete_log_group(logGroupName=g)
        self.assertEqual(code(self, self.logs.list_tags_for_resource,
                              resourceArn=group_arn(g)), "ResourceNotFoundException")
        self.logs.create_log_group(logGroupName=g)  # same name again: no tags of the old one
        self.assertEqual(self.tags(g), {})

    def test_wire_shapes(self):
        """What boto3 does not show: bodies and types on the wire."""
        g = self.make_group()
        r = sh.logs_call(self.srv, "TagResource", {"resourceArn": group_arn(g),
                                                   "tags": {"a": "b"}})
        self.assertEqual((r.status, r.body), (200, b""))
        r = sh.logs_call(self.srv, "ListTagsForResource", {"resourceArn": group_arn(g)})
        self.assertEqual((r.status, r.json), (200, {"tags": {"a": "b"}}))
        for op, body, want in [
                ("TagResource", {"resourceArn": group_arn(g), "tags": ["a"]},
                 "SerializationException"),
                ("TagResource", {"resourceArn": group_arn(g), "tags": {"a": 1}},
                 "SerializationException"),
                ("TagResource", {"resourceArn": group_arn(g)}, "InvalidParameterException"),
                ("TagResource", {"resourceArn": group_arn(g), "tags": {}},
                 "InvalidParameterException"),
                ("UntagResource", {"resourceArn": group_arn(g)}, "InvalidParameterException"),
                ("UntagResource", {"resourceArn": group_arn(g), "tagKeys": [1]},
                 "SerializationException"),
                ("ListTagsForResource", {}, "InvalidParameterException"),
                ("ListTagsForResource", {"resourceArn": 7}, "SerializationException"),
                ("UntagLogGroup", {"logGroupName": g, "tags": []}, "InvalidParameterException"),
                ("CreateLogGroup", {"logGroupName": uniq(), "tags": "a"},
                 "SerializationException")]:
            with self.subTest(op=op, body=body):
                r = sh.logs_call(self.srv, op, body)
                self.assertEqual((r.status, r.error_type), (400, want), r.body)
                self.assertEqual(r.json["__type"], want)


class ServeTagsRestart(unittest.TestCase):
    def test_persistence_and_older_database(self):
        srv = sh.start_server(self)
        logs = sh.boto3_client(self, srv, "logs")
        logs.create_log_group(logGroupName="kept", tags={"a": "1"})
        logs.create_log_group(logGroupName="old")
        logs.tag_resource(resourceArn=group_arn("kept"), tags={"b": "2"})
        srv.restart()
        logs = sh.boto3_client(self, srv, "logs")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=group_arn("kept"))["tags"],
                         {"a": "1", "b": "2"})
        # a database from before tags existed (no log_group_tags table) opens and gains it
        srv.stop()
        with sqlite3.connect(os.path.join(srv.data_dir, "serve.db")) as db:
            db.execute("DROP TABLE log_group_tags")
        srv.start()
        logs = sh.boto3_client(self, srv, "logs")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=group_arn("old"))["tags"], {})
        logs.tag_resource(resourceArn=group_arn("old"), tags={"c": "3"})
        self.assertEqual(logs.list_tags_log_group(logGroupName="old")["tags"], {"c": "3"})


class ServeTagsCli(unittest.TestCase):
    """The AWS CLI v1 as a real client (skips with a message when `aws` is absent)."""

    @classmethod
    def setUpClass(cls):
        if not sh.have_aws_cli():
            raise unittest.SkipTest("the AWS CLI (aws) is not installed: CLI tagging tests "
                                    "skipped")
        cls.srv = sh.start_class_server(cls)

    def test_cli(self):
        g = uniq()
        arn = group_arn(g)
        sh.aws(self, self.srv, "logs", "create-log-group", "--log-group-name", g, "--tags",
               "team=obs")
        sh.aws(self, self.srv, "logs", "tag-resource", "--resource-arn", arn, "--tags",
               "env=dev,owner=me")
        out = sh.aws(self, self.srv, "logs", "list-tags-for-resource", "--resource-arn", arn)
        self.assertEqual(out, {"tags": {"team": "obs", "env": "dev", "owner": "me"}})
        sh.aws(self, self.srv, "logs", "untag-resource", "--resource-arn", arn, "--tag-keys",
               "env", "team")
        out = sh.aws(self, self.srv, "logs", "list-tags-log-group", "--log-group-name", g)
        self.assertEqual(out, {"tags": {"owner": "me"}})
        sh.aws(self, self.srv, "logs", "tag-resource", "--resource-arn", arn, "--tags",
               "aws:x=1", expect_error="InvalidParameterException")
        sh.aws(self, self.srv, "logs", "list-tags-for-resource", "--resource-arn",
               group_arn(uniq("absent")), expect_error="ResourceNotFoundException")
        sh.aws(self, self.srv, "logs", "tag-resource", "--resource-arn", arn, "--tags",
               ",".join(f"k{i}=v" for i in range(50)), expect_error="TooManyTagsException")


def shape(x):
    """A JSON value's shape: dict keys with their values' shapes, types otherwise."""
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()}
    return type(x).__name__


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sequence(logs, names):
    """The boto3 tagging sequence both servers answer: each answer as its shape (without
    ResponseMetadata) or its error code."""
    out = []

    def step(fn, **kw):
        try:
            res = fn(**kw)
            res.pop("ResponseMetadata", None)
            out.append((fn.__name__, shape(res), res.get("tags")))
        except ClientError as e:
            out.append((fn.__name__, e.response["Error"]["Code"], None))

    g, absent = names
    arn = group_arn(g)
    step(logs.create_log_group, logGroupName=g, tags={"a": "1"})
    step(logs.list_tags_for_resource, resourceArn=arn)
    step(logs.tag_resource, resourceArn=arn, tags={"a": "2", "b": "3"})
    step(logs.list_tags_for_resource, resourceArn=arn)
    step(logs.untag_resource, resourceArn=arn, tagKeys=["a"])
    step(logs.list_tags_for_resource, resourceArn=arn)
    step(logs.tag_log_group, logGroupName=g, tags={"c": "4"})
    step(logs.list_tags_log_group, logGroupName=g)
    step(logs.untag_log_group, logGroupName=g, tags=["c"])
    step(logs.list_tags_log_group, logGroupName=g)
    # ABSENT_STEPS: the next two (ListTagsLogGroup on it moto answers as AWS does)
    step(logs.list_tags_for_resource, resourceArn=group_arn(absent))
    step(logs.tag_resource, resourceArn=group_arn(absent), tags={"a": "1"})
    step(logs.list_tags_log_group, logGroupName=absent)
    step(logs.describe_log_groups, logGroupNamePrefix=g)
    return out


ABSENT_STEPS = (10, 11)  # ListTagsForResource, TagResource on an absent group


@unittest.skipIf(ThreadedMotoServer is None, "moto server not importable: moto comparison "
                 "skipped")
class ServeTagsVsMoto(unittest.TestCase):
    def test_same_shapes_as_moto(self):
        srv = sh.start_server(self)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        self.addCleanup(moto.stop)
        import boto3
        from botocore.config import Config
        moto_logs = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name=sh.REGION).client(
                "logs", endpoint_url=f"http://127.0.0.1:{port}",
                config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        names = (uniq(), uniq("absent"))
        ours = sequence(sh.boto3_client(self, srv, "logs"), names)
        theirs = sequence(moto_logs, names)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if i in ABSENT_STEPS:
                # moto answers these for an absent group's ARN with success where AWS (and
                # serve) answer ResourceNotFoundException: checked here for serve alone.
                self.assertEqual(a[1], "ResourceNotFoundException", a)
                continue
            if a[0] == "describe_log_groups":
                # moto's DescribeLogGroups members differ from AWS's in ways not about tags
                # (serve's are checked in test_serve_logs): only the absence of tags is compared.
                self.assertNotIn("tags", a[1]["logGroups"][0])
                self.assertNotIn("tags", b[1]["logGroups"][0])
                continue
            self.assertEqual(a, b)
        self.assertEqual(len(ours), len(theirs))


if __name__ == "__main__":
    unittest.main()
