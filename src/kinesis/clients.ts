/**
 * AWS SDK v3 clients for the worker. The Kinesis client of the SDK speaks HTTP/2 by default, which
 * local endpoints (kinesalite, LocalStack over plain HTTP) do not; clients built here use the
 * HTTP/1.1 handler, which every Kinesis endpoint serves.
 *
 * @example
 * ```ts
 * const kinesis = kinesisClient({ endpoint: 'http://127.0.0.1:4567', region: 'us-east-1' })
 * ```
 * @module
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'

/** A Kinesis client over HTTP/1.1 (config as for `new KinesisClient`). */
export function kinesisClient(config: KinesisClientConfig = {}): KinesisClient {
  return new KinesisClient({ requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000 }), ...config })
}

/** A DynamoDB client (config as for `new DynamoDBClient`). */
export function dynamoClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient(config)
}
