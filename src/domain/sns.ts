/**
 * An SNS subscription waiting to be confirmed. Adapters never fetch `subscribeUrl`: confirming is a
 * deliberate step taken elsewhere, so a forged body cannot make OPX issue requests.
 */
export interface SubscriptionConfirmation {
  topicArn: string;
  subscribeUrl: string;
  token: string;
  messageId: string;
  receivedAt: number;
}
