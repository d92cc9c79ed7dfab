import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { dynamoLeaseStore, type Lease } from '../../src/lease/index.ts'
import { startDynalite, type Emulator } from '../helpers/aws-emulators.ts'
import { leaseStoreConformance } from './conformance.ts'

let dynalite: Emulator
before(async () => {
  dynalite = await startDynalite()
})
after(() => dynalite.stop())

leaseStoreConformance('DynamoDB (dynalite)', {
  open: async (tableName) => {
    const client = new DynamoDBClient(dynalite.config)
    const store = dynamoLeaseStore({ client, tableName })
    const close = store.close.bind(store)
    store.close = async () => {
      await close()
      client.destroy()
    }
    return store
  },
})

describe('DynamoDB lease table compatibility and schema', () => {
  const client = (): DynamoDBClient => new DynamoDBClient(dynalite.config)

  it("reads gokini's and vmware-go-kcl's rows (SequenceID/Checkpoint, ParentShardID/ParentShardId, no LeaseCounter) and takes them conditionally", async () => {
    const c = client()
    const store = dynamoLeaseStore({ client: c, tableName: 'gokini-compat' })
    await store.init()
    const timeout = new Date(Date.now() - 60_000).toISOString()
    await c.send(new PutItemCommand({ TableName: 'gokini-compat', Item: { ShardID: { S: 'shardId-1' }, AssignedTo: { S: 'gokini-worker' }, LeaseTimeout: { S: timeout }, SequenceID: { S: '495' }, ParentShardID: { S: 'shardId-0' } } }))
    await c.send(new PutItemCommand({ TableName: 'gokini-compat', Item: { ShardID: { S: 'shardId-2' }, Checkpoint: { S: '777' }, ParentShardId: { S: 'shardId-0' } } }))
    const gokini = (await store.get('shardId-1')) as Lease
    assert.deepEqual(gokini, { key: 'shardId-1', owner: 'gokini-worker', counter: 0, timeout, checkpoint: '495', parents: ['shardId-0'], claim: undefined, closed: false })
    const kcl = (await store.get('shardId-2')) as Lease
    assert.equal(kcl.checkpoint, '777')
    assert.deepEqual(kcl.parents, ['shardId-0'])
    // a gokini worker renewing in between (LeaseTimeout moves, no counter) makes our take fail
    await c.send(new PutItemCommand({ TableName: 'gokini-compat', Item: { ShardID: { S: 'shardId-1' }, AssignedTo: { S: 'gokini-worker' }, LeaseTimeout: { S: new Date().toISOString() }, SequenceID: { S: '496' } } }))
    assert.equal(await store.take(gokini, 'us', 1000), undefined)
    const fresh = (await store.get('shardId-1')) as Lease
    const taken = (await store.take(fresh, 'us', 1000)) as Lease
    assert.equal(taken.owner, 'us')
    assert.equal(taken.counter, 1)
    const written = (await store.checkpoint(taken, '500')) as Lease
    const raw = await c.send(new GetItemCommand({ TableName: 'gokini-compat', Key: { ShardID: { S: 'shardId-1' } } }))
    assert.equal(raw.Item?.SequenceID?.S, '500', 'gokini reads SequenceID')
    assert.equal(raw.Item?.Checkpoint?.S, '500', 'vmware-go-kcl reads Checkpoint')
    assert.equal(written.checkpoint, '500')
    c.destroy()
  })

  it('a lease table of the wrong schema is refused with TRIB_LEASE_SCHEMA naming the table and its key', async () => {
    const c = client()
    await c.send(new CreateTableCommand({ TableName: 'wrong-schema', AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }))
    await assert.rejects(dynamoLeaseStore({ client: c, tableName: 'wrong-schema' }).init(), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_SCHEMA') && /wrong-schema/.test((err as Error).message) && /leaseKey \(HASH\)/.test((err as Error).message) && /ShardID/.test((err as Error).message))
    c.destroy()
  })

  it('creates the table PROVISIONED when capacity is given, and refuses PROVISIONED without it', async () => {
    const c = client()
    await dynamoLeaseStore({ client: c, tableName: 'provisioned', readCapacityUnits: 3, writeCapacityUnits: 4 }).init()
    const d = await c.send(new DescribeTableCommand({ TableName: 'provisioned' }))
    assert.equal(d.Table?.ProvisionedThroughput?.ReadCapacityUnits, 3)
    assert.equal(d.Table?.ProvisionedThroughput?.WriteCapacityUnits, 4)
    await assert.rejects(dynamoLeaseStore({ client: c, tableName: 'provisioned-2', billingMode: 'PROVISIONED' }).init(), /readCapacityUnits/)
    c.destroy()
  })

  it('a store error names the table and the operation (unreachable endpoint)', async () => {
    const c = new DynamoDBClient({ ...dynalite.config, endpoint: 'http://127.0.0.1:1', maxAttempts: 1 })
    await assert.rejects(dynamoLeaseStore({ client: c, tableName: 'nowhere' }).list(), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_STORE') && /Scan/.test((err as Error).message) && /nowhere/.test((err as Error).message))
    c.destroy()
  })
})
