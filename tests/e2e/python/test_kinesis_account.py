"""End-to-end tests of DescribeAccountSettings / UpdateAccountSettings: the account's minimum
throughput billing commitment, through boto3 (harness.call: raw JSON where the installed botocore
lacks the operations) and as raw JSON, whose timestamps are checked to the millisecond.

What is checked:
  - Initially {'Status': 'DISABLED'} and nothing else.
  - ENABLED: StartedAt = now, EarliestAllowedEndAt = StartedAt + 24 h exactly, no EndedAt; enabling
    again changes nothing.
  - DISABLED within the 24 h: Status ENABLED_UNTIL_EARLIEST_ALLOWED_END, EndedAt =
    EarliestAllowedEndAt, StartedAt kept; disabling again changes nothing; enabling again within
    the 24 h continues the same commitment (StartedAt and EarliestAllowedEndAt kept, no EndedAt).
  - Describe answers what the last Update answered; both survive a restart (same data directory).
  - A Status outside the input enum (ENABLED | DISABLED), a missing Status or a missing
    MinimumThroughputBillingCommitment -> ValidationException; a Status of the wrong JSON type ->
    SerializationException; none of them changes the settings.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_account
Each class starts its own server (the settings are the server's, one per account).
"""

import datetime
import json
import time
import unittest

from botocore.exceptions import ClientError

import harness

UTC = datetime.timezone.utc
DAY_MS = 24 * 3600 * 1000
STATUSES = ('ENABLED', 'DISABLED', 'ENABLED_UNTIL_EARLIEST_ALLOWED_END')


def ms(value):
    """A timestamp of a raw JSON answer (epoch seconds, a number) in milliseconds."""
    return int(round(value * 1000))


class AccountTestCase(unittest.TestCase):
    label = 'account'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label=cls.label, native_jobs=False).start()
        cls.c = cls.server.client()
        cls.loose = cls.server.client(validate=False)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def restart(self):
        self.server.restart()
        self.__class__.c = self.server.client()
        self.__class__.loose = self.server.client(validate=False)

    def raw(self, operation, payload):
        status, body, _ = self.server.json_call(operation, payload)
        return status, body

    def describe_raw(self):
        status, body = self.raw('DescribeAccountSettings', {})
        self.assertEqual(status, 200, body)
        self.assertEqual(list(body), ['MinimumThroughputBillingCommitment'], body)
        return body['MinimumThroughputBillingCommitment']

    def update_raw(self, status_value):
        status, body = self.raw('UpdateAccountSettings', {'MinimumThroughputBillingCommitment': {'Status': status_value}})
        self.assertEqual(status, 200, body)
        self.assertEqual(list(body), ['MinimumThroughputBillingCommitment'], body)
        return body['MinimumThroughputBillingCommitment']

    def describe_boto(self):
        return harness.call(self.server, self.c, 'DescribeAccountSettings')['MinimumThroughputBillingCommitment']

    def assert_shape(self, c):
        """The members a commitment may have, with the types the model gives them."""
        self.assertIn(c['Status'], STATUSES)
        self.assertLessEqual(set(c), {'Status', 'StartedAt', 'EarliestAllowedEndAt', 'EndedAt'}, c)
        for k in ('StartedAt', 'EarliestAllowedEndAt', 'EndedAt'):
            if k in c:
                self.assertIsInstance(c[k], (int, float), '%s is epoch seconds in JSON: %r' % (k, c))

    def assert_same_through_boto(self, raw):
        """boto3 parses the same commitment: timestamps as aware datetimes, equal to the millisecond."""
        got = self.describe_boto()
        self.assertEqual(set(got), set(raw), got)
        self.assertEqual(got['Status'], raw['Status'])
        for k in ('StartedAt', 'EarliestAllowedEndAt', 'EndedAt'):
            if k in raw:
                self.assertIsInstance(got[k], datetime.datetime)
                self.assertIsNotNone(got[k].tzinfo)
                self.assertEqual(int(round(got[k].timestamp() * 1000)), ms(raw[k]), k)


class CommitmentLifecycleTest(AccountTestCase):
    label = 'account-life'

    def test_commitment_lifecycle_and_restarts(self):
        # 1. Nothing committed.
        self.assertEqual(self.describe_raw(), {'Status': 'DISABLED'})
        self.assertEqual(self.describe_boto(), {'Status': 'DISABLED'})
        self.assertEqual(self.update_raw('DISABLED'), {'Status': 'DISABLED'}, 'disabling what is off: nothing')
        self.assertEqual(self.describe_raw(), {'Status': 'DISABLED'})

        # 2. Enabled: 24 hours from now at the earliest.
        before = int(time.time() * 1000)
        r = harness.call(self.server, self.c, 'UpdateAccountSettings',
                         MinimumThroughputBillingCommitment={'Status': 'ENABLED'})['MinimumThroughputBillingCommitment']
        after = int(time.time() * 1000)
        self.assertEqual(r['Status'], 'ENABLED')
        self.assertEqual(set(r), {'Status', 'StartedAt', 'EarliestAllowedEndAt'}, r)
        enabled = self.describe_raw()
        self.assert_shape(enabled)
        self.assertEqual(set(enabled), {'Status', 'StartedAt', 'EarliestAllowedEndAt'}, enabled)
        started = ms(enabled['StartedAt'])
        self.assertGreaterEqual(started, before - 1000)
        self.assertLessEqual(started, after + 1000)
        self.assertEqual(ms(enabled['EarliestAllowedEndAt']) - started, DAY_MS)
        self.assertEqual(int(round(r['StartedAt'].timestamp() * 1000)), started, 'Update answers what Describe shows')
        self.assert_same_through_boto(enabled)

        # Enabling again: the same commitment.
        self.assertEqual(self.update_raw('ENABLED'), enabled)
        self.assertEqual(self.describe_raw(), enabled)

        # 3. Disabled within the 24 hours: it runs until its earliest allowed end.
        ending = self.update_raw('DISABLED')
        self.assert_shape(ending)
        self.assertEqual(ending, {'Status': 'ENABLED_UNTIL_EARLIEST_ALLOWED_END', 'StartedAt': enabled['StartedAt'],
                                  'EarliestAllowedEndAt': enabled['EarliestAllowedEndAt'],
                                  'EndedAt': enabled['EarliestAllowedEndAt']})
        self.assertEqual(self.describe_raw(), ending)
        self.assert_same_through_boto(ending)
        self.assertEqual(self.update_raw('DISABLED'), ending, 'disabling again: nothing changes')

        # 4. Kept across a restart.
        self.restart()
        self.assertEqual(self.describe_raw(), ending)
        self.assert_same_through_boto(ending)

        # 5. Enabled again before its end: the same commitment goes on.
        self.assertEqual(self.update_raw('ENABLED'), enabled)
        self.assertEqual(self.describe_raw(), enabled)
        self.restart()
        self.assertEqual(self.describe_raw(), enabled)


class BadRequestTest(AccountTestCase):
    label = 'account-bad'

    def assert_refused(self, payload, code):
        status, body = self.raw('UpdateAccountSettings', payload)
        self.assertEqual((status, harness.error_type(body)), (400, code), body)
        self.assertTrue(body.get('message') or body.get('Message'), body)
        return body

    def test_bad_status_values(self):
        for bad in ('MAYBE', 'enabled', 'ENABLED_UNTIL_EARLIEST_ALLOWED_END', ''):
            with self.subTest(status=bad):
                body = self.assert_refused({'MinimumThroughputBillingCommitment': {'Status': bad}},
                                           'ValidationException')
                self.assertIn('minimumThroughputBillingCommitment.status', body.get('message', ''))
                # The same through boto3 (client-side validation off): the modeled exception.
                with self.assertRaises(ClientError) as cm:
                    harness.call(self.server, self.loose, 'UpdateAccountSettings',
                                 MinimumThroughputBillingCommitment={'Status': bad})
                self.assertEqual(cm.exception.response['Error']['Code'], 'ValidationException')
        self.assertEqual(self.describe_raw(), {'Status': 'DISABLED'}, 'refused updates change nothing')

    def test_missing_members(self):
        self.assert_refused({'MinimumThroughputBillingCommitment': {}}, 'ValidationException')
        self.assert_refused({}, 'ValidationException')
        self.assert_refused({'MinimumThroughputBillingCommitment': None}, 'ValidationException')
        self.assertEqual(self.describe_raw(), {'Status': 'DISABLED'})

    def test_wrong_json_types(self):
        self.assert_refused({'MinimumThroughputBillingCommitment': {'Status': 1}}, 'SerializationException')
        self.assert_refused({'MinimumThroughputBillingCommitment': 'ENABLED'}, 'SerializationException')
        self.assert_refused({'MinimumThroughputBillingCommitment': {'Status': ['ENABLED']}}, 'SerializationException')
        status, _, body = self.server.raw('UpdateAccountSettings', b'{"MinimumThroughputBillingCommitment": ')
        self.assertEqual((status, harness.error_type(json.loads(body))), (400, 'SerializationException'), body)
        self.assertEqual(self.describe_raw(), {'Status': 'DISABLED'})


if __name__ == '__main__':
    unittest.main()
