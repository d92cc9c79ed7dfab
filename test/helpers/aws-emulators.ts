/**
 * kinesalite and dynalite child processes on free 127.0.0.1 ports for tests (the launcher lives in
 * src/bench so the Kinesis benchmark shares it).
 */
export * from '../../src/bench/aws-emulators.ts'
