import { openKafkaLog } from '../../src/log/kafka/index.ts'
import { runConformance } from './conformance.ts'

runConformance('kafka', () => openKafkaLog({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',') }), { durable: true })
