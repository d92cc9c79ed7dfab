/**
 * `tributary/log/kafka`: the {@link Log} interface on a real Kafka cluster, through
 * `@platformatic/kafka`.
 *
 * @example
 * ```ts
 * import { openKafkaLog } from './log/kafka/index.ts'
 * const log = await openKafkaLog({ brokers: ['127.0.0.1:9092'] })
 * await log.admin.createTopic({ name: 'clicks', partitions: 3 })
 * await log.producer().send([{ topic: 'clicks', key: 'user-1', value: '/home' }])
 * const consumer = log.consumer({ groupId: 'counter', topics: ['clicks'] })
 * const batch = await consumer.poll({ timeoutMs: 5_000 })
 * await consumer.commit()
 * await log.close()
 * ```
 * @module
 */
export { openKafkaLog, KafkaLog } from './kafka-log.ts'
export type { KafkaLogOptions } from './settings.ts'
export type { KafkaSaslOptions, KafkaSecurityOptions, KafkaTlsOptions, Secret } from './security.ts'
