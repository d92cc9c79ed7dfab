/**
 * The DynamoDB {@link LeaseStore}, on gokini's table layout so a fleet moving from gokini (or
 * vmware-go-kcl) resumes from its checkpoints:
 *
 * | attribute | meaning | also read |
 * |---|---|---|
 * | `ShardID` (hash key, S) | lease key | |
 * | `AssignedTo` (S) | owner | |
 * | `LeaseTimeout` (S, RFC 3339) | until when the owner meant to hold it (informational) | |
 * | `LeaseCounter` (N) | moves on take, renew, release (expiry is judged by it) | missing = 0 |
 * | `SequenceID` (S) | checkpoint (written together with `Checkpoint`) | `Checkpoint` (vmware-go-kcl) |
 * | `ParentShardID` (S), `ParentShardIDs` (SS) | parents (the set when there are two) | `ParentShardId` (vmware-go-kcl) |
 * | `ClaimRequest` (S) | pending claim | |
 * | `Closed` (BOOL) | finished | |
 *
 * Every write is an `UpdateItem` with a condition on the row as observed (owner, counter and
 * `LeaseTimeout`, so a gokini worker's renewal also counts as a change); a failed condition returns
 * `undefined`. The table is created when missing (`PAY_PER_REQUEST` unless capacity is given) and its
 * key schema is checked.
 *
 * @example
 * ```ts
 * const store = dynamoLeaseStore({ client: new DynamoDBClient({}), tableName: 'my-app' })
 * await store.init()
 * ```
 * @module
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb'
import { TributaryError } from '../core/errors.ts'
import { sleep } from '../core/backoff.ts'
import { leaseTimeout } from './rules.ts'
import type { CheckpointOptions, Lease, LeaseStore, NewLease } from './types.ts'

/** Options of {@link dynamoLeaseStore}. */
export interface DynamoLeaseStoreOptions {
  readonly client: DynamoDBClient
  /** The lease table (gokini's `TableName`). */
  readonly tableName: string
  /** Provisioned read units; with `writeCapacityUnits` the table is created `PROVISIONED`. */
  readonly readCapacityUnits?: number
  /** Provisioned write units. */
  readonly writeCapacityUnits?: number
  /** `PAY_PER_REQUEST` (default) or `PROVISIONED` (needs both capacity options). */
  readonly billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED'
  /** How long `init()` waits for a new table to become ACTIVE (ms, default 60,000). */
  readonly createTimeoutMs?: number
}

type Item = Record<string, AttributeValue>

const S = (s: string): AttributeValue => ({ S: s })

/** Reads a row, accepting gokini's and vmware-go-kcl's attribute names. */
export function itemToLease(item: Item): Lease {
  const parents = item.ParentShardIDs?.SS ?? [item.ParentShardID?.S ?? item.ParentShardId?.S].filter((p): p is string => p !== undefined && p !== '')
  return {
    key: item.ShardID?.S ?? '',
    owner: item.AssignedTo?.S,
    counter: item.LeaseCounter?.N === undefined ? 0 : Number(item.LeaseCounter.N),
    timeout: item.LeaseTimeout?.S,
    checkpoint: item.SequenceID?.S ?? item.Checkpoint?.S,
    parents,
    claim: item.ClaimRequest?.S,
    closed: item.Closed?.BOOL ?? false,
  }
}

/** Leases in a DynamoDB table with gokini's layout. */
export class DynamoLeaseStore implements LeaseStore {
  readonly name: string
  readonly #o: DynamoLeaseStoreOptions

  constructor(options: DynamoLeaseStoreOptions) {
    this.#o = options
    this.name = `dynamodb:${options.tableName}`
  }

  get tableName(): string {
    return this.#o.tableName
  }

  #fail(op: string, err: unknown): never {
    const name = (err as { name?: string }).name ?? ''
    if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException')
      throw new TributaryError('TRIB_LEASE_STORE', `DynamoDB denied ${op} on lease table ${this.#o.tableName}: grant dynamodb:${op} on it (${(err as Error).message})`, {
        cause: err,
        details: { table: this.#o.tableName, operation: op },
      })
    if (err instanceof ResourceNotFoundException)
      throw new TributaryError('TRIB_LEASE_STORE', `lease table ${this.#o.tableName} does not exist (${op}); call init() to create it`, { cause: err, details: { table: this.#o.tableName, operation: op } })
    throw new TributaryError('TRIB_LEASE_STORE', `DynamoDB ${op} on lease table ${this.#o.tableName} failed: ${(err as Error).message}`, {
      cause: err,
      retriable: true,
      details: { table: this.#o.tableName, operation: op },
    })
  }

  async init(): Promise<void> {
    const table = this.#o.tableName
    let description: TableDescription | undefined
    try {
      description = (await this.#o.client.send(new DescribeTableCommand({ TableName: table }))).Table
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) this.#fail('DescribeTable', err)
    }
    if (description === undefined) {
      const provisioned = this.#o.billingMode === 'PROVISIONED' || (this.#o.readCapacityUnits !== undefined && this.#o.writeCapacityUnits !== undefined)
      if (provisioned && (this.#o.readCapacityUnits === undefined || this.#o.writeCapacityUnits === undefined))
        throw new TributaryError('TRIB_INVALID_ARGUMENT', `billingMode PROVISIONED for lease table ${table} needs readCapacityUnits and writeCapacityUnits`)
      try {
        await this.#o.client.send(
          new CreateTableCommand({
            TableName: table,
            AttributeDefinitions: [{ AttributeName: 'ShardID', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'ShardID', KeyType: 'HASH' }],
            ...(provisioned
              ? { BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: this.#o.readCapacityUnits, WriteCapacityUnits: this.#o.writeCapacityUnits } }
              : { BillingMode: 'PAY_PER_REQUEST' }),
          }),
        )
      } catch (err) {
        if ((err as { name?: string }).name !== 'ResourceInUseException') this.#fail('CreateTable', err)
      }
      const deadline = Date.now() + (this.#o.createTimeoutMs ?? 60_000)
      for (;;) {
        try {
          description = (await this.#o.client.send(new DescribeTableCommand({ TableName: table }))).Table
        } catch (err) {
          this.#fail('DescribeTable', err)
        }
        if (description?.TableStatus === 'ACTIVE') break
        if (Date.now() > deadline) throw new TributaryError('TRIB_TIMEOUT', `lease table ${table} is still ${description?.TableStatus} after ${this.#o.createTimeoutMs ?? 60_000} ms`, { retriable: true })
        await sleep(50)
      }
    }
    const keys = description?.KeySchema ?? []
    const hash = keys.find((k) => k.KeyType === 'HASH')
    const type = description?.AttributeDefinitions?.find((a) => a.AttributeName === hash?.AttributeName)?.AttributeType
    if (keys.length !== 1 || hash?.AttributeName !== 'ShardID' || type !== 'S') {
      const found = keys.map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ')
      throw new TributaryError(
        'TRIB_LEASE_SCHEMA',
        `lease table ${table} has key schema [${found}]; a lease table needs exactly one hash key ShardID of type S (the DynamoDB schema is invalid and may need to be re-created)`,
        { details: { table, keySchema: keys } },
      )
    }
  }

  /** The condition "row as observed": owner, counter and LeaseTimeout unchanged. */
  #observed(lease: Lease): { condition: string; values: Item } {
    const parts = ['attribute_exists(ShardID)']
    const values: Item = {}
    if (lease.owner === undefined) parts.push('attribute_not_exists(AssignedTo)')
    else {
      parts.push('AssignedTo = :oldOwner')
      values[':oldOwner'] = S(lease.owner)
    }
    values[':oldCounter'] = { N: String(lease.counter) }
    parts.push(lease.counter === 0 ? '(attribute_not_exists(LeaseCounter) OR LeaseCounter = :oldCounter)' : 'LeaseCounter = :oldCounter')
    if (lease.timeout === undefined) parts.push('attribute_not_exists(LeaseTimeout)')
    else {
      parts.push('LeaseTimeout = :oldTimeout')
      values[':oldTimeout'] = S(lease.timeout)
    }
    return { condition: parts.join(' AND '), values }
  }

  async #update(op: string, lease: Lease, update: string, values: Item, extraCondition?: string): Promise<Lease | undefined> {
    const observed = this.#observed(lease)
    try {
      const out = await this.#o.client.send(
        new UpdateItemCommand({
          TableName: this.#o.tableName,
          Key: { ShardID: S(lease.key) },
          UpdateExpression: update,
          ConditionExpression: extraCondition ? `${observed.condition} AND ${extraCondition}` : observed.condition,
          ExpressionAttributeValues: { ...observed.values, ...values },
          ReturnValues: 'ALL_NEW',
        }),
      )
      return itemToLease(out.Attributes ?? {})
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined
      this.#fail(op, err)
    }
  }

  async create(key: string, fields: NewLease = {}): Promise<boolean> {
    const item: Item = { ShardID: S(key), LeaseCounter: { N: '0' } }
    const parents = fields.parents ?? []
    if (parents.length > 0) item.ParentShardID = S(parents[0])
    if (parents.length > 1) item.ParentShardIDs = { SS: [...parents] }
    if (fields.checkpoint !== undefined) {
      item.SequenceID = S(fields.checkpoint)
      item.Checkpoint = S(fields.checkpoint)
    }
    try {
      await this.#o.client.send(new PutItemCommand({ TableName: this.#o.tableName, Item: item, ConditionExpression: 'attribute_not_exists(ShardID)' }))
      return true
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false
      this.#fail('PutItem', err)
    }
  }

  async get(key: string): Promise<Lease | undefined> {
    try {
      const out = await this.#o.client.send(new GetItemCommand({ TableName: this.#o.tableName, Key: { ShardID: S(key) }, ConsistentRead: true }))
      return out.Item ? itemToLease(out.Item) : undefined
    } catch (err) {
      this.#fail('GetItem', err)
    }
  }

  async list(): Promise<Lease[]> {
    const leases: Lease[] = []
    let start: Item | undefined
    do {
      try {
        const out = await this.#o.client.send(new ScanCommand({ TableName: this.#o.tableName, ConsistentRead: true, ExclusiveStartKey: start }))
        for (const item of out.Items ?? []) leases.push(itemToLease(item))
        start = out.LastEvaluatedKey
      } catch (err) {
        this.#fail('Scan', err)
      }
    } while (start !== undefined)
    return leases.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  take(observed: Lease, owner: string, durationMs: number): Promise<Lease | undefined> {
    return this.#update('UpdateItem', observed, 'SET AssignedTo = :owner, LeaseCounter = :counter, LeaseTimeout = :timeout REMOVE ClaimRequest', {
      ':owner': S(owner),
      ':counter': { N: String(observed.counter + 1) },
      ':timeout': S(leaseTimeout(durationMs)),
    })
  }

  renew(held: Lease, durationMs: number): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    return this.#update(
      'UpdateItem',
      held,
      'SET LeaseCounter = :counter, LeaseTimeout = :timeout',
      { ':counter': { N: String(held.counter + 1) }, ':timeout': S(leaseTimeout(durationMs)) },
      'attribute_not_exists(ClaimRequest)',
    )
  }

  release(held: Lease): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    return this.#update('UpdateItem', held, 'SET LeaseCounter = :counter REMOVE AssignedTo, LeaseTimeout', { ':counter': { N: String(held.counter + 1) } })
  }

  claim(observed: Lease, claimer: string): Promise<Lease | undefined> {
    return this.#update('UpdateItem', observed, 'SET ClaimRequest = :claimer', { ':claimer': S(claimer) }, 'attribute_not_exists(ClaimRequest)')
  }

  checkpoint(held: Lease, checkpoint: string, options: CheckpointOptions = {}): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    const close = options.close === true ? ', Closed = :closed' : ''
    const values: Item = { ':cp': S(checkpoint) }
    if (close) values[':closed'] = { BOOL: true }
    return this.#update('UpdateItem', held, `SET SequenceID = :cp, Checkpoint = :cp${close}`, values)
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#o.client.send(new DeleteItemCommand({ TableName: this.#o.tableName, Key: { ShardID: S(key) } }))
    } catch (err) {
      this.#fail('DeleteItem', err)
    }
  }

  async close(): Promise<void> {}
}

/** Opens leases in a DynamoDB table (see {@link DynamoLeaseStore}). */
export function dynamoLeaseStore(options: DynamoLeaseStoreOptions): DynamoLeaseStore {
  return new DynamoLeaseStore(options)
}
