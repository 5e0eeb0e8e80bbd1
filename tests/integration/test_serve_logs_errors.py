"""Exact error replies of the CloudWatch Logs operations of `skylog serve` (server/logs_api.c).

Clients choose what to retry from the error type and people read the message, so this pins
status, __type and message for every way a request can name its log group or stream wrongly,
operation by operation, and which error wins when a request is wrong twice: the group name
before the stream name, every argument before the store lookups, the group before the stream.
The handlers share their preamble, so a change there shows here in every operation at once.

No case changes the store: each test runs its cases against a server holding group "g" with
stream "s", then asks again, which also proves that no error path kept the store lock.
"""

import unittest

import skyharness as sh

ARN = "arn:aws:logs:us-east-1:123456789012:log-group:%s:*"
LONG_GROUP, LONG_STREAM = "a" * 513, "s" * 513

# Operations by how they read the group (and stream) they are about.
BY_NAME = ["CreateLogStream", "DeleteLogStream", "PutRetentionPolicy", "DeleteRetentionPolicy",
           "PutLogEvents"]
BY_NAME_OR_ARN = ["DescribeLogStreams", "GetLogEvents", "FilterLogEvents"]
WITH_STREAM = ["CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"]


def invalid(message):
    return (400, "InvalidParameterException", message)


def must_not_be_null(field):
    return invalid(f"1 validation error detected: Value null at '{field}' failed to satisfy "
                   "constraint: Member must not be null")


def bad_length(value, field, bound):
    # AWS quotes the whole value (a 513-character name in full)
    return invalid(f"1 validation error detected: Value '{value}' at '{field}' failed to "
                   f"satisfy constraint: Member must have length {bound}")


def bad_pattern(value, field, pattern):
    return invalid(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
                   f"constraint: Member must satisfy regular expression pattern: {pattern}")


GROUP_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
STREAM_PATTERN = "[^:*]*"
TOO_SHORT, TOO_LONG = "greater than or equal to 1", "less than or equal to 512"
WRONG_TYPE = (400, "SerializationException", "Unexpected value type")
NO_GROUP = (400, "ResourceNotFoundException", "The specified log group does not exist.")
NO_STREAM = (400, "ResourceNotFoundException", "The specified log stream does not exist.")
BAD_TOKEN = invalid("The specified nextToken is invalid.")


def wrong_type_of(field):
    return (400, "SerializationException", f"Unexpected value type for '{field}'")


def rest_of(op):
    """The arguments besides the group that make `op` valid: only the group decides."""
    rest = {"PutRetentionPolicy": {"retentionInDays": 7},
            "PutLogEvents": {"logEvents": [{"timestamp": sh.now_ms(), "message": "x"}]}}
    rest = dict(rest.get(op, {}))
    if op in WITH_STREAM:
        rest["logStreamName"] = "s"
    return rest


def group_cases():
    """(op, payload, reply) for each way of naming the group, in every operation that reads
    it through the shared argument helper."""
    for op in BY_NAME + BY_NAME_OR_ARN:
        arn = op in BY_NAME_OR_ARN
        no_name = (invalid("Should provide either logGroupName or logGroupIdentifier.") if arn
                   else must_not_be_null("logGroupName"))
        for group, reply in [
            ({"logGroupName": 5}, WRONG_TYPE),
            ({}, no_name),
            ({"logGroupName": "bad name"}, bad_pattern("bad name", "logGroupName", GROUP_PATTERN)),
            ({"logGroupName": ""}, bad_length("", "logGroupName", TOO_SHORT)),
            ({"logGroupName": LONG_GROUP}, bad_length(LONG_GROUP, "logGroupName", TOO_LONG)),
            ({"logGroupName": "nope"}, NO_GROUP),
            ({"logGroupIdentifier": 5}, WRONG_TYPE if arn else no_name),
            ({"logGroupName": "nope", "logGroupIdentifier": "nope"},
             (400, "ValidationException",
              "LogGroup name and LogGroup ARN are mutually exclusive parameters.") if arn
             else NO_GROUP),
            ({"logGroupIdentifier": ARN % "nope"}, NO_GROUP if arn else no_name),
            ({"logGroupIdentifier": ARN % "bad name"},
             bad_pattern("bad name", "logGroupName", GROUP_PATTERN) if arn else no_name),
            ({"logGroupIdentifier": "nope"}, NO_GROUP if arn else no_name),
        ]:
            yield op, {**group, **rest_of(op)}, reply


def stream_cases():
    for op in WITH_STREAM:
        rest = {k: v for k, v in rest_of(op).items() if k != "logStreamName"}
        cases = [
            ({"logGroupName": "g", "logStreamName": 5}, WRONG_TYPE),
            ({"logGroupName": "g"}, must_not_be_null("logStreamName")),
            ({"logGroupName": "g", "logStreamName": "a:b"},
             bad_pattern("a:b", "logStreamName", STREAM_PATTERN)),
            ({"logGroupName": "g", "logStreamName": "a*b"},
             bad_pattern("a*b", "logStreamName", STREAM_PATTERN)),
            ({"logGroupName": "g", "logStreamName": ""}, bad_length("", "logStreamName", TOO_SHORT)),
            ({"logGroupName": "g", "logStreamName": LONG_STREAM},
             bad_length(LONG_STREAM, "logStreamName", TOO_LONG)),
            # the group's name is checked first, then the stream's, then the store
            ({"logGroupName": 5, "logStreamName": 5}, WRONG_TYPE),
            ({"logGroupName": "bad name"}, bad_pattern("bad name", "logGroupName", GROUP_PATTERN)),
            ({"logGroupName": "nope", "logStreamName": "a:b"},
             bad_pattern("a:b", "logStreamName", STREAM_PATTERN)),
            ({"logGroupName": "nope", "logStreamName": "nope"}, NO_GROUP),
        ]
        if op == "CreateLogStream":
            cases.append(({"logGroupName": "g", "logStreamName": "s"},
                          (400, "ResourceAlreadyExistsException",
                           "The specified log stream already exists")))
        else:
            cases.append(({"logGroupName": "g", "logStreamName": "nope"}, NO_STREAM))
        for payload, reply in cases:
            yield op, {**payload, **rest}, reply


# The operations that manage groups read the name themselves: their own wrong-type message. Both
# validate it as CloudWatch does (DeleteLogGroup used to answer "not found" for an invalid name).
# logGroupIdentifier is not in their API model: an unknown member, ignored.
GROUP_OPS = [
    ("CreateLogGroup", {"logGroupName": 5}, wrong_type_of("logGroupName")),
    ("CreateLogGroup", {}, must_not_be_null("logGroupName")),
    ("CreateLogGroup", {"logGroupIdentifier": "g"}, must_not_be_null("logGroupName")),
    ("CreateLogGroup", {"logGroupName": "bad name"},
     bad_pattern("bad name", "logGroupName", GROUP_PATTERN)),
    ("CreateLogGroup", {"logGroupName": ""}, bad_length("", "logGroupName", TOO_SHORT)),
    ("CreateLogGroup", {"logGroupName": LONG_GROUP}, bad_length(LONG_GROUP, "logGroupName", TOO_LONG)),
    ("CreateLogGroup", {"logGroupName": "g"},
     (400, "ResourceAlreadyExistsException", "The specified log group already exists")),
    ("DeleteLogGroup", {"logGroupName": 5}, wrong_type_of("logGroupName")),
    ("DeleteLogGroup", {}, must_not_be_null("logGroupName")),
    ("DeleteLogGroup", {"logGroupIdentifier": "g"}, must_not_be_null("logGroupName")),
    ("DeleteLogGroup", {"logGroupName": "bad name"},
     bad_pattern("bad name", "logGroupName", GROUP_PATTERN)),
    ("DeleteLogGroup", {"logGroupName": ""}, bad_length("", "logGroupName", TOO_SHORT)),
    ("DeleteLogGroup", {"logGroupName": LONG_GROUP}, bad_length(LONG_GROUP, "logGroupName", TOO_LONG)),
    ("DeleteLogGroup", {"logGroupName": "nope"}, NO_GROUP),
]

# Every other argument is validated before the store is looked at: these name a missing group
# and stream and still get the validation error.
MISSING = {"logGroupName": "nope", "logStreamName": "nope"}
VALIDATION_FIRST = [
    ("PutRetentionPolicy", {"logGroupName": "nope"}, must_not_be_null("retentionInDays")),
    ("PutRetentionPolicy", {"logGroupName": "nope", "retentionInDays": "7"},
     wrong_type_of("retentionInDays")),
    ("PutRetentionPolicy", {"logGroupName": "nope", "retentionInDays": 2},
     invalid("1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
             "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, "
             "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]")),
    ("PutLogEvents", MISSING, must_not_be_null("logEvents")),
    ("PutLogEvents", {**MISSING, "logEvents": []},
     invalid("1 validation error detected: Value '[...]' at 'logEvents' failed to satisfy "
             "constraint: Member must have length greater than or equal to 1")),
    ("PutLogEvents", {**MISSING, "logEvents": [{"timestamp": 2, "message": "b"},
                                               {"timestamp": 1, "message": "a"}]},
     invalid("Log events in a single PutLogEvents request must be in chronological order.")),
    ("PutLogEvents", {**MISSING, "sequenceToken": 5, "logEvents": [{"timestamp": 1,
                                                                    "message": "a"}]},
     wrong_type_of("sequenceToken")),
    ("GetLogEvents", {**MISSING, "nextToken": "garbage"}, BAD_TOKEN),
    ("GetLogEvents", {**MISSING, "startTime": "x"}, wrong_type_of("startTime")),
    ("GetLogEvents", {**MISSING, "limit": 0},
     invalid("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1")),
    ("FilterLogEvents", {"logGroupName": "nope", "nextToken": "o/1"}, BAD_TOKEN),
    ("FilterLogEvents", {"logGroupName": "nope", "filterPattern": "{ $.a = "},
     invalid("Invalid filter pattern: JSON pattern must end with }")),
    ("FilterLogEvents", {"logGroupName": "nope", "logStreamNames": ["a"],
                         "logStreamNamePrefix": "a"},
     invalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")),
    ("FilterLogEvents", {"logGroupName": "nope", "limit": 10001},
     invalid("1 validation error detected: Value '10001' at 'limit' failed to satisfy "
             "constraint: Member must have value less than or equal to 10000")),
    ("DescribeLogStreams", {"logGroupName": "nope", "nextToken": "bad"}, BAD_TOKEN),
    ("DescribeLogStreams", {"logGroupName": "nope", "orderBy": "Size"},
     invalid("1 validation error detected: Value 'Size' at 'orderBy' failed to satisfy "
             "constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]")),
    ("DescribeLogStreams", {"logGroupName": "nope", "orderBy": "LastEventTime",
                            "logStreamNamePrefix": "a"},
     invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")),
    ("DescribeLogStreams", {"logGroupName": "nope", "limit": 51},
     invalid("1 validation error detected: Value '51' at 'limit' failed to satisfy "
             "constraint: Member must have value less than or equal to 50")),
]


class LogsErrorRepliesTest(unittest.TestCase):
    def setUp(self):
        self.srv = sh.start_server(self)
        for op, payload in [("CreateLogGroup", {"logGroupName": "g"}),
                            ("CreateLogStream", {"logGroupName": "g", "logStreamName": "s"})]:
            self.assertEqual(sh.logs_call(self.srv, op, payload).status, 200)

    def check(self, cases):
        for op, payload, (status, error_type, message) in cases:
            with self.subTest(op=op, payload=payload):
                r = sh.logs_call(self.srv, op, payload)
                self.assertEqual((r.status, r.json), (status, {"__type": error_type,
                                                               "message": message}))
                self.assertEqual(r.headers.get("x-amzn-errortype"), error_type)
                self.assertEqual(r.headers.get("content-type"), "application/x-amz-json-1.1")
        # The store is as it was, and answering proves every error path released its lock.
        r = sh.logs_call(self.srv, "DescribeLogStreams", {"logGroupName": "g"})
        self.assertEqual([s["logStreamName"] for s in r.json["logStreams"]], ["s"])
        r = sh.logs_call(self.srv, "DescribeLogGroups", {})
        self.assertEqual([g["logGroupName"] for g in r.json["logGroups"]], ["g"])

    def test_naming_the_group(self):
        self.check(group_cases())

    def test_naming_the_stream(self):
        self.check(stream_cases())

    def test_operations_on_groups(self):
        self.check(GROUP_OPS)

    def test_arguments_are_validated_before_the_store_is_read(self):
        self.check(VALIDATION_FIRST)


if __name__ == "__main__":
    unittest.main()
