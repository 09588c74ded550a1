"""The order in which eddy's Kinesis API refuses a request that is wrong in more than one way.

AWS validates a request in this order:
  1. serialization: a member of the wrong JSON type, a blob that is not base64
     -> SerializationException;
  2. every member's constraints from the service model (required, length, range, pattern, enum)
     -> ValidationException;
  3. the operation's own argument checks (a ShardIteratorType that needs a StartingSequenceNumber
     without one, a retention period below 24 hours, NextToken together with StreamName, ...)
     -> InvalidArgumentException;
  4. only then whether the stream, shard or consumer exists -> ResourceNotFoundException
     (CreateStream: whether the name is taken -> ResourceInUseException).

Every request here names a stream (or consumer, or shard) that does not exist AND is wrong in one
way, so the answer must be the error of that way, never ResourceNotFoundException. The cases of
steps 1 and 2 are generated from the service model (src/api/models/kinesis-2013-12-02.json): for
every operation, every member (also inside lists, maps and structures) and every constraint it has,
a value violating it, a value of the wrong JSON type, and the request without each required
member. The cases of step 3 are written by hand per operation; each has a twin on an EXISTING
stream/consumer (its name ends in _on_existing), which tells an ordering bug (only the missing-
resource case fails) from a check eddy lacks altogether (both fail). Further twins check the order
between the steps: a step-3 problem plus a constraint violation -> ValidationException; a
constraint violation plus a wrong JSON type -> SerializationException. The *_control tests send each
operation's base request (valid, about a missing resource) and expect ResourceNotFoundException, so
that the premise of the other cases holds.

Every request is raw JSON 1.1 (server.raw): botocore would refuse most of them client-side.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_validation_order
One server (port 0, private data dir), about a thousand requests; a few carry 6-14 MB bodies.
"""

import base64
import copy
import json
import os
import re
import time
import unittest

import harness
from harness import shard_id

MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'src', 'api', 'models',
                          'kinesis-2013-12-02.json')
with open(MODEL_PATH) as _f:
    MODEL = json.load(_f)
SHAPES = MODEL['shapes']
OPERATIONS = MODEL['operations']

ACCOUNT = '000000000000'
ARN_PREFIX = 'arn:aws:kinesis:%s:%s:stream/' % (harness.REGION, ACCOUNT)
S0, S1 = shard_id(0), shard_id(1)
MISSING_SHARD = shard_id(99)
CONSUMER = 'vo-consumer'
POLICY = json.dumps({'Version': '2012-10-17', 'Statement': []})


def b64(data):
    return base64.b64encode(data).decode('ascii')


class Ref:
    """A value known only once the server runs (resolved by the test class before sending)."""

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return '<%s>' % self.key


def resolve(value, refs):
    if isinstance(value, Ref):
        return refs[value.key]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


# Names of the resources the requests are about. "missing" ones are never created.
MISSING = 'vo-missing-stream'
MISSING_ARN = ARN_PREFIX + MISSING
OTHER_MISSING = 'vo-other-missing-stream'
OTHER_MISSING_ARN = ARN_PREFIX + OTHER_MISSING
MISSING_CONSUMER_ARN = MISSING_ARN + '/consumer/' + CONSUMER + ':1700000000'
EXISTING = 'vo-existing-stream'
EXISTING_ARN = ARN_PREFIX + EXISTING

MISSING_RES = {'name': MISSING, 'arn': MISSING_ARN, 'consumer_arn': MISSING_CONSUMER_ARN,
               'other_name': OTHER_MISSING, 'other_arn': OTHER_MISSING_ARN, 'shard': S0, 'shard2': S1}
# The existing stream (2 shards) and its consumer: Ref('consumer_arn') is resolved at setUpClass.
EXISTING_RES = {'name': EXISTING, 'arn': EXISTING_ARN, 'consumer_arn': Ref('consumer_arn'),
                'other_name': OTHER_MISSING, 'other_arn': OTHER_MISSING_ARN, 'shard': S0, 'shard2': S1}

# ------------------------------------------------------------------------------ base requests
# Per operation: a request that is valid in every way and about a resource that does not exist,
# and what it must answer (an error type, or None for success: operations about no resource).
BASE = {
    'AddTagsToStream': {'StreamName': MISSING, 'Tags': {'k': 'v'}},
    'CreateStream': {'StreamName': EXISTING, 'ShardCount': 1},
    'DecreaseStreamRetentionPeriod': {'StreamName': MISSING, 'RetentionPeriodHours': 24},
    'DeleteResourcePolicy': {'ResourceARN': MISSING_ARN},
    'DeleteStream': {'StreamName': MISSING},
    'DeregisterStreamConsumer': {'StreamARN': MISSING_ARN, 'ConsumerName': CONSUMER},
    'DescribeAccountSettings': {},
    'DescribeLimits': {},
    'DescribeStream': {'StreamName': MISSING},
    'DescribeStreamConsumer': {'StreamARN': MISSING_ARN, 'ConsumerName': CONSUMER},
    'DescribeStreamSummary': {'StreamName': MISSING},
    'DisableEnhancedMonitoring': {'StreamName': MISSING, 'ShardLevelMetrics': ['IncomingBytes']},
    'EnableEnhancedMonitoring': {'StreamName': MISSING, 'ShardLevelMetrics': ['IncomingBytes']},
    'GetRecords': {'ShardIterator': Ref('deleted_iterator')},
    'GetResourcePolicy': {'ResourceARN': MISSING_ARN},
    'GetShardIterator': {'StreamName': MISSING, 'ShardId': S0, 'ShardIteratorType': 'LATEST'},
    'IncreaseStreamRetentionPeriod': {'StreamName': MISSING, 'RetentionPeriodHours': 48},
    'ListShards': {'StreamName': MISSING},
    'ListStreamConsumers': {'StreamARN': MISSING_ARN},
    'ListStreams': {},
    'ListTagsForResource': {'ResourceARN': MISSING_ARN},
    'ListTagsForStream': {'StreamName': MISSING},
    'MergeShards': {'StreamName': MISSING, 'ShardToMerge': S0, 'AdjacentShardToMerge': S1},
    'PutRecord': {'StreamName': MISSING, 'Data': b64(b'x'), 'PartitionKey': 'k'},
    'PutRecords': {'StreamName': MISSING, 'Records': [{'Data': b64(b'x'), 'PartitionKey': 'k'}]},
    'PutResourcePolicy': {'ResourceARN': MISSING_ARN, 'Policy': POLICY},
    'RegisterStreamConsumer': {'StreamARN': MISSING_ARN, 'ConsumerName': CONSUMER},
    'RemoveTagsFromStream': {'StreamName': MISSING, 'TagKeys': ['k']},
    'SplitShard': {'StreamName': MISSING, 'ShardToSplit': S0, 'NewStartingHashKey': str(2 ** 127)},
    'StartStreamEncryption': {'StreamName': MISSING, 'EncryptionType': 'KMS', 'KeyId': 'alias/aws/kinesis'},
    'StopStreamEncryption': {'StreamName': MISSING, 'EncryptionType': 'KMS', 'KeyId': 'alias/aws/kinesis'},
    'SubscribeToShard': {'ConsumerARN': MISSING_CONSUMER_ARN, 'ShardId': S0, 'StartingPosition': {'Type': 'LATEST'}},
    'TagResource': {'ResourceARN': MISSING_ARN, 'Tags': {'k': 'v'}},
    'UntagResource': {'ResourceARN': MISSING_ARN, 'TagKeys': ['k']},
    'UpdateAccountSettings': {'MinimumThroughputBillingCommitment': {'Status': 'DISABLED'}},
    'UpdateMaxRecordSize': {'StreamARN': MISSING_ARN, 'MaxRecordSizeInKiB': 2048},
    'UpdateShardCount': {'StreamName': MISSING, 'TargetShardCount': 2, 'ScalingType': 'UNIFORM_SCALING'},
    'UpdateStreamMode': {'StreamARN': MISSING_ARN, 'StreamModeDetails': {'StreamMode': 'ON_DEMAND'}},
    'UpdateStreamWarmThroughput': {'StreamName': MISSING, 'WarmThroughputMiBps': 10},
}
BASE_ANSWER = {op: 'ResourceNotFoundException' for op in BASE}
BASE_ANSWER.update({'CreateStream': 'ResourceInUseException', 'ListStreams': None, 'DescribeLimits': None,
                    'DescribeAccountSettings': None, 'UpdateAccountSettings': None})

# A valid value of a shape, where an optional member or a list item needs one.
VALID = {
    'PutRecordsRequestEntry': {'Data': b64(b'x'), 'PartitionKey': 'k'},
    'ShardFilter': {'Type': 'AT_LATEST'},
    'StartingPosition': {'Type': 'LATEST'},
    'StreamModeDetails': {'StreamMode': 'ON_DEMAND'},
    'MinimumThroughputBillingCommitmentInput': {'Status': 'DISABLED'},
    'TagKey': 'k',
    'TagValue': 'v',
    'MetricsName': 'IncomingBytes',
}


def valid_value(shape_name):
    if shape_name in VALID:
        return copy.deepcopy(VALID[shape_name])
    raise KeyError('no valid value for shape %s: add one to VALID' % shape_name)


# -------------------------------------------------------------------------- violating values
def long_string(shape_name, n):
    """A string of n code points that satisfies the shape's pattern where one can."""
    if shape_name in ('StreamARN', 'ResourceARN'):
        return ARN_PREFIX + 'a' * (n - len(ARN_PREFIX))
    if shape_name == 'ConsumerARN':
        tail = '/consumer/c:1700000000'
        return ARN_PREFIX + 'a' * (n - len(ARN_PREFIX) - len(tail)) + tail
    if shape_name == 'StreamId':
        return 'a' * n
    return 'a' * n


BAD_PATTERN = {
    # shape -> [(label, value)], each within the shape's length bounds and not matching its pattern
    'StreamName': [('bad_pattern', 'bad name!')],
    'ShardId': [('bad_pattern', 'bad shard!')],
    'ConsumerName': [('bad_pattern', 'bad consumer!')],
    'StreamARN': [('bad_pattern', 'arn:aws:kinesis:us-east-1:000000000000:table/x')],
    'ResourceARN': [('bad_pattern', 'arn:aws:kinesis:us-east-1:000000000000:table/x')],
    'ConsumerARN': [('bad_pattern', MISSING_ARN + '/listener/c:1700000000')],
    'StreamId': [('bad_pattern', 'ABCDEFGHIJKLMNOPQRST-ABC')],
    'SequenceNumber': [('bad_pattern', 'abc'), ('leading_zero', '01')],
    'HashKey': [('bad_pattern', 'abc'), ('negative', '-1'), ('forty_digits', '1' * 40)],
}


def full_match(pattern, value):
    return re.fullmatch(pattern, value) is not None


def string_violations(shape_name, shape):
    out = []
    if shape.get('min', 0) >= 1:
        out.append(('empty', ''))
    if 'max' in shape:
        out.append(('too_long', long_string(shape_name, int(shape['max']) + 1)))
    if 'pattern' in shape:
        if shape_name not in BAD_PATTERN:
            raise KeyError('no pattern-violating value for shape %s: add one to BAD_PATTERN' % shape_name)
        for label, v in BAD_PATTERN[shape_name]:
            # The premise: the value breaks the pattern and nothing else.
            assert not full_match(shape['pattern'], v), (shape_name, v)
            assert shape.get('min', 0) <= len(v) <= shape.get('max', 1e9), (shape_name, v)
            out.append((label, v))
    if 'enum' in shape:
        out.append(('not_in_enum', 'BOGUS_VALUE'))
    return out


def violations(shape_name):
    """[(label, value)]: values of the shape that break one of its model constraints."""
    shape = SHAPES[shape_name]
    t = shape['type']
    if t == 'string':
        return string_violations(shape_name, shape)
    if t in ('integer', 'long'):
        out = []
        if 'min' in shape:
            out.append(('below_min', int(shape['min']) - 1))
        if 'max' in shape:
            out.append(('above_max', int(shape['max']) + 1))
        return out
    if t == 'blob':
        out = []
        if 'max' in shape:
            out.append(('too_large', b64(b'\x00' * (int(shape['max']) + 1))))
        return out
    if t == 'list':
        out = []
        if shape.get('min', 0) >= 1:
            out.append(('empty', []))
        if 'max' in shape:
            item = valid_value(shape['member']['shape'])
            out.append(('too_many', [copy.deepcopy(item) for _ in range(int(shape['max']) + 1)]))
        return out
    if t == 'map':
        out = []
        if shape.get('min', 0) >= 1:
            out.append(('empty', {}))
        if 'max' in shape:
            out.append(('too_many', {'k%d' % i: 'v' for i in range(int(shape['max']) + 1)}))
        return out
    return []


WRONG_TYPE = {
    # model type -> (label, a JSON value of another type)
    'string': ('number_for_string', 12345),
    'integer': ('string_for_integer', 'twelve'),
    'long': ('string_for_long', 'twelve'),
    'boolean': ('string_for_boolean', 'yes'),
    'list': ('string_for_list', 'not-a-list'),
    'map': ('string_for_map', 'not-a-map'),
    'structure': ('string_for_structure', 'not-a-structure'),
    'blob': ('not_base64', '!!not base64!!'),
    'timestamp': ('boolean_for_timestamp', True),
}


# ------------------------------------------------------------------------------------ cases
class Case:
    def __init__(self, op, name, body, expected, about='', key=None):
        self.op, self.name, self.body, self.expected, self.about = op, name, body, expected, about
        self.key = key  # the top-level member a generated case changes


def set_path(body, path, value, parents):
    """A copy of body with path (keys / list indices) set to value; missing parents get the valid
    value of their shape (parents[i]: the shape name of the value at path[:i + 1])."""
    out = copy.deepcopy(body)
    cur = out
    for i, step in enumerate(path[:-1]):
        if isinstance(step, int):
            cur = cur[step]
            continue
        if step not in cur:
            cur[step] = valid_value(parents[i])
        cur = cur[step]
    cur[path[-1]] = value
    return out


def remove_path(body, path):
    out = copy.deepcopy(body)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    del cur[path[-1]]
    return out


def path_label(path):
    return '_'.join(str(p) for p in path)


def member_cases(op, base, shape_name, path, parents, present):
    """Constraint, type and required-member cases for the shape at `path` of `base`.
    present: whether the base request has a value at `path` (else one is added for the case)."""
    shape = SHAPES[shape_name]
    t = shape['type']
    cases = []
    if path:
        label, wrong = WRONG_TYPE[t]
        cases.append(Case(op, 'serialization_%s_%s' % (path_label(path), label), set_path(base, path, wrong, parents),
                          'SerializationException', 'a %s member given a JSON %s' % (t, type(wrong).__name__),
                          path[0]))
        for label, bad in violations(shape_name):
            cases.append(Case(op, 'validation_%s_%s' % (path_label(path), label), set_path(base, path, bad, parents),
                              'ValidationException', 'model constraint of %s (%s)' % (shape_name, label), path[0]))
    if t == 'structure':
        if path and not present:
            # The members of an optional structure: probed inside a valid value of it.
            base = set_path(base, path, valid_value(shape_name), parents)
            present = True
        for req in shape.get('required', []):
            cases.append(Case(op, 'validation_%s_required_missing' % path_label(path + [req]),
                              remove_path(base, path + [req]), 'ValidationException',
                              'required member %s left out' % req))
        for m, ref in shape['members'].items():
            present_m = get_path(base, path + [m]) is not None
            cases += member_cases(op, base, ref['shape'], path + [m], parents + [ref['shape']], present_m)
    elif t == 'list':
        item_shape = shape['member']['shape']
        lst = get_path(base, path) if present else None
        item_base = base if lst else set_path(base, path, [valid_value(item_shape)], parents)
        cases += member_cases(op, item_base, item_shape, path + [0], parents + [item_shape], True)
    elif t == 'map':
        key_shape, value_shape = shape['key']['shape'], shape['value']['shape']
        for label, bad in violations(key_shape):
            cases.append(Case(op, 'validation_%s_key_%s' % (path_label(path), label),
                              set_path(base, path, {bad: valid_value(value_shape)}, parents), 'ValidationException',
                              'model constraint of the map key %s (%s)' % (key_shape, label), path[0]))
        for label, bad in violations(value_shape):
            cases.append(Case(op, 'validation_%s_value_%s' % (path_label(path), label),
                              set_path(base, path, {valid_value(key_shape): bad}, parents), 'ValidationException',
                              'model constraint of the map value %s (%s)' % (value_shape, label), path[0]))
        label, wrong = WRONG_TYPE[SHAPES[value_shape]['type']]
        cases.append(Case(op, 'serialization_%s_value_%s' % (path_label(path), label),
                          set_path(base, path, {valid_value(key_shape): wrong}, parents), 'SerializationException',
                          'a map value of the wrong JSON type', path[0]))
    return cases


def get_path(body, path):
    cur = body
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return None
        elif not isinstance(cur, dict) or step not in cur:
            return None
        cur = cur[step]
    return cur


def model_cases():
    cases = []
    for op in sorted(OPERATIONS):
        inp = OPERATIONS[op].get('input', {}).get('shape')
        if not inp or not SHAPES[inp].get('members'):
            continue
        cases += member_cases(op, BASE[op], inp, [], [], True)
    return cases


# Operation-level argument problems (InvalidArgumentException), written per operation. Each
# function takes the resource names (MISSING_RES or EXISTING_RES) and returns the request body.
def _consumer_ref(r):
    return {'ConsumerARN': r['consumer_arn']}


ARGUMENT_CASES = [
    # StreamName and StreamARN naming different streams (every operation that takes both).
    *[(op, 'name_and_arn_disagree',
       (lambda op: lambda r: dict(BASE[op], StreamName=r['name'], StreamARN=r['other_arn']))(op))
      for op in sorted(OPERATIONS)
      if op in BASE and {'StreamName', 'StreamARN'} <= set(SHAPES[OPERATIONS[op]['input']['shape']]['members'])
      and op != 'CreateStream'],
    # GetShardIterator: the iterator type and its parameters.
    ('GetShardIterator', 'at_sequence_number_without_sequence_number',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'AT_SEQUENCE_NUMBER'}),
    ('GetShardIterator', 'after_sequence_number_without_sequence_number',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'AFTER_SEQUENCE_NUMBER'}),
    ('GetShardIterator', 'at_timestamp_without_timestamp',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'AT_TIMESTAMP'}),
    ('GetShardIterator', 'trim_horizon_with_sequence_number',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'TRIM_HORIZON',
                'StartingSequenceNumber': '49590338271490256608559692538361571095921575989136588898'}),
    ('GetShardIterator', 'latest_with_timestamp',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'LATEST',
                'Timestamp': 1700000000}),
    ('GetShardIterator', 'at_timestamp_in_the_future',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'AT_TIMESTAMP',
                'Timestamp': time.time() + 86400}),
    ('GetShardIterator', 'sequence_number_that_is_no_sequence_number',
     lambda r: {'StreamName': r['name'], 'ShardId': r['shard'], 'ShardIteratorType': 'AT_SEQUENCE_NUMBER',
                'StartingSequenceNumber': '1'}),
    # Retention periods outside 24..8760 hours.
    ('IncreaseStreamRetentionPeriod', 'below_24_hours', lambda r: {'StreamName': r['name'], 'RetentionPeriodHours': 23}),
    ('IncreaseStreamRetentionPeriod', 'negative', lambda r: {'StreamName': r['name'], 'RetentionPeriodHours': -1}),
    ('IncreaseStreamRetentionPeriod', 'above_8760_hours',
     lambda r: {'StreamName': r['name'], 'RetentionPeriodHours': 8761}),
    ('DecreaseStreamRetentionPeriod', 'below_24_hours', lambda r: {'StreamName': r['name'], 'RetentionPeriodHours': 23}),
    ('DecreaseStreamRetentionPeriod', 'above_8760_hours',
     lambda r: {'StreamName': r['name'], 'RetentionPeriodHours': 8761}),
    # Hash keys beyond 2^128 - 1 (39 digits: the model's pattern allows them).
    ('PutRecord', 'explicit_hash_key_above_2_128',
     lambda r: {'StreamName': r['name'], 'Data': b64(b'x'), 'PartitionKey': 'k', 'ExplicitHashKey': str(2 ** 128)}),
    ('PutRecord', 'sequence_number_for_ordering_that_is_no_sequence_number',
     lambda r: {'StreamName': r['name'], 'Data': b64(b'x'), 'PartitionKey': 'k', 'SequenceNumberForOrdering': '1'}),
    ('PutRecords', 'explicit_hash_key_above_2_128',
     lambda r: {'StreamName': r['name'], 'Records': [
         {'Data': b64(b'x'), 'PartitionKey': 'k'},
         {'Data': b64(b'y'), 'PartitionKey': 'k', 'ExplicitHashKey': str(2 ** 128)}]}),
    ('PutRecords', 'more_than_5_mib_in_all',
     lambda r: {'StreamName': r['name'], 'Records': [
         {'Data': b64(bytes([i]) * 1000000), 'PartitionKey': 'k%d' % i} for i in range(6)]}),
    ('SplitShard', 'new_starting_hash_key_above_2_128',
     lambda r: {'StreamName': r['name'], 'ShardToSplit': r['shard'], 'NewStartingHashKey': str(2 ** 128)}),
    ('MergeShards', 'shard_merged_with_itself',
     lambda r: {'StreamName': r['name'], 'ShardToMerge': r['shard'], 'AdjacentShardToMerge': r['shard']}),
    # ListShards: NextToken excludes StreamName, ExclusiveStartShardId and StreamCreationTimestamp;
    # ShardFilter types need their parameter.
    ('ListShards', 'next_token_with_stream_name',
     lambda r: {'StreamName': r['name'],
                'NextToken': Ref('deleted_next_token' if r is MISSING_RES else 'existing_next_token')}),
    ('ListShards', 'next_token_with_exclusive_start_shard_id',
     lambda r: {'NextToken': Ref('deleted_next_token' if r is MISSING_RES else 'existing_next_token'),
                'ExclusiveStartShardId': r['shard']}),
    ('ListShards', 'next_token_with_stream_creation_timestamp',
     lambda r: {'NextToken': Ref('deleted_next_token' if r is MISSING_RES else 'existing_next_token'),
                'StreamCreationTimestamp': 1700000000}),
    ('ListShards', 'filter_after_shard_id_without_shard_id',
     lambda r: {'StreamName': r['name'], 'ShardFilter': {'Type': 'AFTER_SHARD_ID'}}),
    ('ListShards', 'filter_at_timestamp_without_timestamp',
     lambda r: {'StreamName': r['name'], 'ShardFilter': {'Type': 'AT_TIMESTAMP'}}),
    ('ListShards', 'filter_from_timestamp_without_timestamp',
     lambda r: {'StreamName': r['name'], 'ShardFilter': {'Type': 'FROM_TIMESTAMP'}}),
    # Tags: at most 50 per stream; only letters, digits, white space and _ . : / = + - @.
    ('AddTagsToStream', 'more_than_50_tags',
     lambda r: {'StreamName': r['name'], 'Tags': {'t%02d' % i: 'v' for i in range(51)}}),
    ('AddTagsToStream', 'tag_with_invalid_characters', lambda r: {'StreamName': r['name'], 'Tags': {'k': 'v<>'}}),
    ('TagResource', 'more_than_50_tags',
     lambda r: {'ResourceARN': r['arn'], 'Tags': {'t%02d' % i: 'v' for i in range(51)}}),
    ('TagResource', 'tag_with_invalid_characters', lambda r: {'ResourceARN': r['arn'], 'Tags': {'k': 'v<>'}}),
    ('GetRecords', 'malformed_iterator_with_stream_arn', lambda r: {'ShardIterator': 'garbage', 'StreamARN': r['arn']}),
    # CreateStream of a PROVISIONED stream needs ShardCount (optional in the model): eddy answers
    # ValidationException "Member must not be null for PROVISIONED streams", as AWS words it.
    ('CreateStream', 'provisioned_without_shard_count', lambda r: {'StreamName': r['name']}, 'ValidationException'),
    ('CreateStream', 'more_than_50_tags',
     lambda r: {'StreamName': r['name'], 'ShardCount': 1, 'Tags': {'t%02d' % i: 'v' for i in range(51)}}),
    ('CreateStream', 'tag_with_invalid_characters',
     lambda r: {'StreamName': r['name'], 'ShardCount': 1, 'Tags': {'k': 'v<>'}}),
    ('UpdateStreamMode', 'provisioned_with_warm_throughput',
     lambda r: {'StreamARN': r['arn'], 'StreamModeDetails': {'StreamMode': 'PROVISIONED'}, 'WarmThroughputMiBps': 10}),
    ('PutResourcePolicy', 'policy_not_json', lambda r: {'ResourceARN': r['arn'], 'Policy': 'not json'}),
    ('PutResourcePolicy', 'policy_without_statement',
     lambda r: {'ResourceARN': r['arn'], 'Policy': '{"Version": "2012-10-17"}'}),
    ('StartStreamEncryption', 'encryption_type_none',
     lambda r: {'StreamName': r['name'], 'EncryptionType': 'NONE', 'KeyId': 'alias/aws/kinesis'}),
    ('StopStreamEncryption', 'encryption_type_none',
     lambda r: {'StreamName': r['name'], 'EncryptionType': 'NONE', 'KeyId': 'alias/aws/kinesis'}),
    # Consumers: the ConsumerARN and the StreamARN / ConsumerName given with it must agree.
    ('DescribeStreamConsumer', 'stream_arn_without_consumer_name', lambda r: {'StreamARN': r['arn']}),
    ('DescribeStreamConsumer', 'consumer_arn_of_another_stream',
     lambda r: dict(_consumer_ref(r), StreamARN=r['other_arn'])),
    ('DescribeStreamConsumer', 'consumer_arn_of_another_name', lambda r: dict(_consumer_ref(r), ConsumerName='other')),
    ('DeregisterStreamConsumer', 'stream_arn_without_consumer_name', lambda r: {'StreamARN': r['arn']}),
    ('DeregisterStreamConsumer', 'consumer_arn_of_another_stream',
     lambda r: dict(_consumer_ref(r), StreamARN=r['other_arn'])),
    ('DeregisterStreamConsumer', 'consumer_arn_of_another_name',
     lambda r: dict(_consumer_ref(r), ConsumerName='other')),
    # SubscribeToShard: the starting position and its parameters.
    ('SubscribeToShard', 'at_sequence_number_without_sequence_number',
     lambda r: dict(_consumer_ref(r), ShardId=r['shard'], StartingPosition={'Type': 'AT_SEQUENCE_NUMBER'})),
    ('SubscribeToShard', 'at_timestamp_without_timestamp',
     lambda r: dict(_consumer_ref(r), ShardId=r['shard'], StartingPosition={'Type': 'AT_TIMESTAMP'})),
    ('SubscribeToShard', 'trim_horizon_with_sequence_number',
     lambda r: dict(_consumer_ref(r), ShardId=r['shard'], StartingPosition={
         'Type': 'TRIM_HORIZON', 'SequenceNumber': '49590338271490256608559692538361571095921575989136588898'})),
]

# The same problems on an existing stream whose shard does not exist: the shard is a resource too.
SHARD_ARGUMENT_CASES = [
    ('GetShardIterator', 'at_sequence_number_without_sequence_number'),
    ('GetShardIterator', 'at_timestamp_without_timestamp'),
    ('GetShardIterator', 'trim_horizon_with_sequence_number'),
    ('SplitShard', 'new_starting_hash_key_above_2_128'),
    ('MergeShards', 'shard_merged_with_itself'),
    ('SubscribeToShard', 'at_sequence_number_without_sequence_number'),
]


def has_stream_id(op):
    inp = OPERATIONS[op].get('input', {}).get('shape')
    return bool(inp) and 'StreamId' in SHAPES[inp].get('members', {})


def argument_cases():
    cases = []
    seen = set()
    for op, label, fn, *rest in ARGUMENT_CASES:
        expected = rest[0] if rest else 'InvalidArgumentException'
        assert (op, label) not in seen, (op, label)
        seen.add((op, label))
        missing = fn(MISSING_RES)
        if op == 'CreateStream':
            # CreateStream's "resource" is the name: an EXISTING one (the answer would be
            # ResourceInUseException) and a free one (the request could otherwise succeed).
            cases.append(Case(op, 'argument_%s_name_taken' % label, fn(EXISTING_RES), expected,
                              'operation-level argument check before the name-taken check'))
            cases.append(Case(op, 'argument_%s_name_free' % label, fn(dict(EXISTING_RES, name='vo-free-' + label)),
                              expected, 'operation-level argument check'))
            continue
        cases.append(Case(op, 'argument_%s' % label, missing, expected,
                          'operation-level argument check before the existence check'))
        cases.append(Case(op, 'argument_%s_on_existing' % label, fn(EXISTING_RES), expected,
                          'the same check on an existing resource (does eddy make it at all?)'))
        if has_stream_id(op):
            # A constraint violation too: ValidationException comes first.
            cases.append(Case(op, 'argument_%s_and_bad_stream_id' % label, dict(missing, StreamId='bad'),
                              'ValidationException', 'model constraints before operation-level checks'))
        if (op, label) in [(o, lb) for o, lb in SHARD_ARGUMENT_CASES]:
            cases.append(Case(op, 'argument_%s_on_missing_shard' % label,
                              fn(dict(EXISTING_RES, shard=MISSING_SHARD)), 'InvalidArgumentException',
                              'operation-level argument check before the shard existence check'))
    return cases


def order_cases(generated):
    """Per operation: a wrong JSON type in one member together with a constraint violation of
    another -> SerializationException (serialization is checked first)."""
    cases = []
    by_op = {}
    for c in generated:
        by_op.setdefault(c.op, []).append(c)
    for op, cs in sorted(by_op.items()):
        ser = [c for c in cs if c.expected == 'SerializationException']
        val = [c for c in cs if c.expected == 'ValidationException' and 'required_missing' not in c.name
               and len(json.dumps(resolve(c.body, {'deleted_iterator': ''}))) < 100000]
        pair = next(((s, v) for s in ser for v in val if s.key != v.key), None)
        if pair is None:
            continue
        s, v = pair
        body = dict(s.body)
        body[v.key] = v.body[v.key]
        cases.append(Case(op, 'order_serialization_before_validation', body, 'SerializationException',
                          'a wrong JSON type (%s) and a constraint violation (%s)' % (s.name, v.name)))
    return cases


def all_cases():
    generated = model_cases()
    cases = generated + argument_cases() + order_cases(generated)
    names = set()
    for c in cases:
        c.test_name = 'test_%s_%s' % (c.op, c.name)
        assert c.test_name not in names, c.test_name
        names.add(c.test_name)
    return cases


CASES = all_cases()


# ------------------------------------------------------------------------------------ tests
class ValidationOrderTest(unittest.TestCase):
    label = 'valorder'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label=cls.label, native_jobs=False)
        # StartStreamEncryption needs a key file; without it the server answers KMSNotFoundException
        # for any stream, which is not what these cases are about.
        key = os.path.join(cls.server.root, 'encryption.key')
        with open(key, 'w') as f:
            f.write(os.urandom(32).hex() + '\n')
        # Subscriptions end after 3 s: a SubscribeToShard wrongly accepted does not hold a case for
        # the 5 minutes AWS gives a subscription.
        cls.server.extra_args = ['--encryption-key-file', key, '--fanout-subscription-ms', '3000'] + cls.server.extra_args
        cls.server.start()
        try:
            cls.prepare()
        except BaseException:
            cls.server.close()
            raise

    @classmethod
    def prepare(cls):
        c = cls.c = cls.server.client()
        cls.refs = {}
        harness.create_stream(c, EXISTING, 2)
        consumer = c.register_stream_consumer(StreamARN=EXISTING_ARN, ConsumerName=CONSUMER)['Consumer']
        cls.refs['consumer_arn'] = consumer['ConsumerARN']
        cls.refs['existing_next_token'] = c.list_shards(StreamName=EXISTING, MaxResults=1)['NextToken']
        # A shard iterator and a ListShards NextToken of a stream deleted since.
        gone = harness.create_stream(c, 'vo-deleted-stream', 2)
        cls.refs['deleted_iterator'] = c.get_shard_iterator(StreamName=gone, ShardId=S0,
                                                            ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        cls.refs['deleted_next_token'] = c.list_shards(StreamName=gone, MaxResults=1)['NextToken']
        c.delete_stream(StreamName=gone)
        harness.wait_not_exists(c, gone)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def send(self, op, body):
        body = resolve(body, self.refs)
        text = json.dumps(body)
        status, _, raw = self.server.raw(op, text, timeout=120)
        try:
            obj = json.loads(raw) if raw.strip() else None
        except ValueError:
            obj = None
        return status, obj, raw, text

    def check(self, case):
        status, obj, raw, text = self.send(case.op, case.body)
        got = harness.error_type(obj) if status >= 300 else None
        message = (obj.get('message') or obj.get('Message')) if isinstance(obj, dict) else None
        shown = text if len(text) <= 400 else text[:400] + '... (%d bytes)' % len(text)
        report = ('%s: expected %s, got %s (HTTP %d)\n  why: %s\n  request: %s\n  message: %s'
                  % (case.op, case.expected, got, status, case.about, shown, message or raw[:300]))
        self.assertEqual(got, case.expected, report)
        self.assertEqual(status, 400, report)
        if case.expected == 'ValidationException' and case.name.startswith('validation_'):
            self.assertIn('failed to satisfy constraint', message or '', report)

    # ------------------------------------------------------------------ premises of the cases
    def test_every_operation_has_a_base_request(self):
        self.assertEqual(set(BASE), set(OPERATIONS))
        ops_with_cases = {c.op for c in CASES}
        with_members = {op for op in OPERATIONS
                        if SHAPES.get(OPERATIONS[op].get('input', {}).get('shape'), {}).get('members')}
        self.assertEqual(ops_with_cases, with_members)

    def test_controls_base_requests(self):
        """Each operation's base request (valid, about a missing resource) answers
        ResourceNotFoundException (CreateStream: ResourceInUseException; operations about no
        resource succeed); each request of the ListShards/GetRecords cases about a deleted stream's
        token or iterator, too."""
        extra = [('ListShards', {'NextToken': Ref('deleted_next_token')}, 'ResourceNotFoundException')]
        for op, body, want in [(op, BASE[op], BASE_ANSWER[op]) for op in sorted(BASE)] + extra:
            with self.subTest(operation=op):
                status, obj, raw, text = self.send(op, body)
                got = harness.error_type(obj) if status >= 300 else None
                self.assertEqual(got, want, '%s %s -> HTTP %d %s' % (op, text[:300], status, raw[:300]))

    def test_existing_resources_are_there(self):
        d = self.c.describe_stream_consumer(ConsumerARN=self.refs['consumer_arn'])['ConsumerDescription']
        self.assertEqual(d['ConsumerStatus'], 'ACTIVE')
        self.assertEqual(len(harness.all_shards(self.c, EXISTING)), 2)


def _make_test(case):
    def test(self):
        self.check(case)
    return test


for _case in CASES:
    setattr(ValidationOrderTest, _case.test_name, _make_test(_case))
del _case


if __name__ == '__main__':
    unittest.main()
