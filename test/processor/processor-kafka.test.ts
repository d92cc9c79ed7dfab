import { openKafkaLog } from '../../src/log/kafka/index.ts'
import { runProcessorSuite } from './processor-suite.ts'

runProcessorSuite('kafka', () => openKafkaLog({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',') }), { timeoutMs: 60_000 })
