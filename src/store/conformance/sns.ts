import { describe, expect, it } from 'vitest';
import { T0 } from './fixtures.js';
import { type StoreFactory, useStore } from './harness.js';

export function snsSpecs(init: StoreFactory): void {
  describe('sns subscriptions', () => {
    const store = useStore(init);
    const confirmation = (topicArn: string, receivedAt: number, token = 'token-1') => ({
      topicArn,
      subscribeUrl: `https://sns.example/confirm?token=${token}`,
      token,
      messageId: `msg-${token}`,
      receivedAt,
    });

    it('recordConfirmation stores a pending subscription; recording again updates it in place', async () => {
      const topic = 'arn:aws:sns:eu-west-1:123456789012:alarms';
      const stored = async () => (await store().sns.list()).filter((item) => item.topicArn === topic);
      await store().sns.recordConfirmation(confirmation(topic, T0));
      expect(await stored()).toEqual([{ ...confirmation(topic, T0), status: 'pending' }]);

      await store().sns.recordConfirmation(confirmation(topic, T0 + 10, 'token-2'));
      expect(await stored()).toEqual([{ ...confirmation(topic, T0 + 10, 'token-2'), status: 'pending' }]);
    });

    it('markConfirmed confirms a known topic and reports false for an unknown one', async () => {
      const topic = 'arn:aws:sns:eu-west-1:123456789012:confirm-me';
      await store().sns.recordConfirmation(confirmation(topic, T0 + 20));

      expect(await store().sns.markConfirmed(topic)).toBe(true);
      expect((await store().sns.list()).find((item) => item.topicArn === topic)?.status).toBe('confirmed');
      expect(await store().sns.markConfirmed('arn:aws:sns:eu-west-1:123456789012:unknown')).toBe(false);
    });

    it('list returns the most recently received first', async () => {
      const older = 'arn:aws:sns:us-east-1:123456789012:older';
      const newer = 'arn:aws:sns:us-east-1:123456789012:newer';
      await store().sns.recordConfirmation(confirmation(newer, T0 + 1_000_000));
      await store().sns.recordConfirmation(confirmation(older, T0 + 999_999));
      const topics = (await store().sns.list()).map((item) => item.topicArn);
      expect(topics.indexOf(newer)).toBe(0);
      expect(topics.indexOf(older)).toBe(1);
    });
  });
}
