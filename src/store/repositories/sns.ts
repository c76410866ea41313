import type { SubscriptionConfirmation } from '../../domain/sns.js';
import type { RepositoryContext } from './base.js';

export interface SnsSubscription extends SubscriptionConfirmation {
  status: 'pending' | 'confirmed';
}

export function snsRepository({ db }: RepositoryContext) {
  return {
    async recordConfirmation(confirmation: SubscriptionConfirmation): Promise<void> {
      const row = {
        topic_arn: confirmation.topicArn,
        subscribe_url: confirmation.subscribeUrl,
        token: confirmation.token,
        message_id: confirmation.messageId,
        status: 'pending',
        received_at: confirmation.receivedAt,
      };
      await db
        .insertInto('sns_subscriptions')
        .values(row)
        .onConflict((conflict) =>
          conflict.column('topic_arn').doUpdateSet({
            subscribe_url: row.subscribe_url,
            token: row.token,
            message_id: row.message_id,
            received_at: row.received_at,
          }),
        )
        .execute();
    },

    async list(): Promise<SnsSubscription[]> {
      const rows = await db
        .selectFrom('sns_subscriptions')
        .selectAll()
        .orderBy('received_at', 'desc')
        .execute();
      return rows.map((row) => ({
        topicArn: row.topic_arn,
        subscribeUrl: row.subscribe_url,
        token: row.token,
        messageId: row.message_id,
        receivedAt: row.received_at,
        status: row.status as SnsSubscription['status'],
      }));
    },

    async markConfirmed(topicArn: string): Promise<boolean> {
      const result = await db
        .updateTable('sns_subscriptions')
        .set({ status: 'confirmed' })
        .where('topic_arn', '=', topicArn)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}
export type SnsRepository = ReturnType<typeof snsRepository>;
