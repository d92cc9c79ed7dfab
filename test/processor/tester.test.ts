import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs, isTributaryError, type ErrorCode } from '../../src/core/index.ts'
import { Tester, defineGroup, input, join, lookup, loop, output, persist, type Context } from '../../src/processor/index.ts'

const str = codecs.string()
const num = codecs.json<number>()

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, ...mentions: RegExp[]): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isTributaryError(err, code), `expected ${code}, got ${String(err)} (${(err as { code?: string }).code})`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

const counter = defineGroup(
  'counter',
  input('clicks', str, (ctx: Context<number>) => {
    const n = (ctx.value() ?? 0) + 1
    ctx.setValue(n)
    if (n % 2 === 0) ctx.emit('even', ctx.key, n)
  }),
  output('even', num),
  persist(num),
)

describe('test harness', () => {
  it('counts per key, keeps the table and records emits, deterministically', async () => {
    const tester = new Tester({ partitions: 3 })
    tester.register(counter)
    for (const key of ['a', 'b', 'a', 'a', 'b']) await tester.consume('clicks', key, 'x')
    assert.equal(tester.tableValue('counter-table', 'a'), 3)
    assert.equal(tester.tableValue('counter-table', 'b'), 2)
    assert.equal(tester.tableValue('counter-table', 'nobody'), undefined)
    assert.deepEqual(tester.emitted<number>('even').map((m) => [m.key, m.value]), [['a', 2], ['b', 2]])
    assert.deepEqual(tester.tableEntries<number>('counter-table').sort(), [['a', 3], ['b', 2]])
    tester.clearEmitted('even')
    assert.deepEqual(tester.emitted('even'), [])
  })

  it('passes metadata and headers to the callback and propagates the input timestamp', async () => {
    const seen: unknown[] = []
    const graph = defineGroup(
      'meta',
      input('in', str, (ctx, msg) => {
        seen.push({ topic: ctx.topic, key: ctx.key, msg, offset: ctx.offset, ts: ctx.timestamp, h: ctx.header('trace')?.toString(), group: ctx.group })
        ctx.emit('out', ctx.key, msg.toUpperCase(), { headers: { trace: 'x' } })
      }),
      output('out', str),
    )
    const tester = new Tester().register(graph)
    await tester.consume('in', 'k', 'hello', { headers: { trace: 't-1' }, timestamp: 1234 })
    await tester.consume('in', 'k', 'again')
    assert.deepEqual(seen[0], { topic: 'in', key: 'k', msg: 'hello', offset: 0, ts: 1234, h: 't-1', group: 'meta' })
    assert.equal((seen[1] as { offset: number }).offset, 1)
    const [out] = tester.emitted<string>('out')
    assert.equal(out.value, 'HELLO')
    assert.equal(out.timestamp, 1234)
    assert.equal(out.headers[0][1].toString(), 'x')
  })

  it('delivers loopbacks and emits to other registered graphs in the same call', async () => {
    const splitter = defineGroup(
      'splitter',
      input('sentences', str, (ctx, sentence: string) => {
        for (const word of sentence.split(' ')) ctx.loopback(word, 1)
      }),
      loop(num, (ctx, n: number) => ctx.emit('words', ctx.key, n)),
      output('words', num),
    )
    const words = defineGroup(
      'word-count',
      input('words', num, (ctx: Context<number>, n: number) => ctx.setValue((ctx.value() ?? 0) + n)),
      persist(num),
    )
    const tester = new Tester({ partitions: 4 }).register(splitter).register(words)
    await tester.consume('sentences', 's1', 'to be or not to be')
    assert.equal(tester.tableValue('word-count-table', 'to'), 2)
    assert.equal(tester.tableValue('word-count-table', 'be'), 2)
    assert.equal(tester.tableValue('word-count-table', 'not'), 1)
    assert.equal(tester.emitted('splitter-loop').length, 6)
  })

  it('joins co-partitioned tables and looks up others', async () => {
    const graph = defineGroup(
      'enrich',
      input('orders', num, (ctx, amount: number) => {
        const user = ctx.join<{ country: string }>('users-table')
        const rate = ctx.lookup<number>('rates-table', user?.country ?? 'none') ?? 0
        ctx.emit('billed', ctx.key, amount * rate)
      }),
      join('users-table', codecs.json<{ country: string }>()),
      lookup('rates-table', num),
      output('billed', num),
    )
    const tester = new Tester({ partitions: 2 }).register(graph)
    tester.setTableValue('users-table', 'alice', { country: 'fr' })
    tester.setTableValue('rates-table', 'fr', 2)
    await tester.consume('orders', 'alice', 10)
    await tester.consume('orders', 'bob', 10)
    assert.deepEqual(tester.emitted<number>('billed').map((m) => m.value), [20, 0])
  })

  it('deletes with a tombstone', async () => {
    const graph = defineGroup(
      'deleter',
      input('cmds', str, (ctx: Context<string>, cmd: string) => (cmd === 'del' ? ctx.delete() : ctx.setValue(cmd))),
      persist(str),
    )
    const tester = new Tester().register(graph)
    await tester.consume('cmds', 'k', 'v1')
    assert.equal(tester.tableValue('deleter-table', 'k'), 'v1')
    await tester.consume('cmds', 'k', 'del')
    assert.equal(tester.tableValue('deleter-table', 'k'), undefined)
  })

  it('handles nil messages as configured: ignore (default), process, decode', async () => {
    const seen: unknown[] = []
    const make = (group: string) => defineGroup(group, input('in', codecs.custom((v: string) => Buffer.from(v), (b) => `decoded(${b.length})`), (_ctx, m) => void seen.push(m)))
    await new Tester().register(make('n1')).consumeBytes('in', 'k', null)
    assert.deepEqual(seen, [])
    await new Tester().register(make('n2'), { nilHandling: 'process' }).consumeBytes('in', 'k', null)
    assert.deepEqual(seen, [undefined])
    await new Tester().register(make('n3'), { nilHandling: 'decode' }).consumeBytes('in', 'k', null)
    assert.deepEqual(seen, [undefined, 'decoded(0)'])
  })

  it('awaits async callbacks, one message at a time even when fed concurrently', async () => {
    const order: string[] = []
    const graph = defineGroup(
      'async',
      input('in', str, async (ctx: Context<string>, m: string) => {
        order.push(`start ${m}`)
        await new Promise((resolve) => setImmediate(resolve))
        ctx.setValue(m)
        order.push(`end ${m}`)
      }),
      persist(str),
    )
    const tester = new Tester().register(graph)
    await Promise.all([tester.consume('in', 'k', '1'), tester.consume('in', 'k', '2')])
    assert.deepEqual(order, ['start 1', 'end 1', 'start 2', 'end 2'])
    assert.equal(tester.tableValue('async-table', 'k'), '2')
  })
})

describe('bad input and misuse fail at the call with clear errors', () => {
  it('an undecodable message fails naming topic, partition and offset', async () => {
    const graph = defineGroup('strict', input('in', codecs.json<number>(), () => {}))
    const tester = new Tester().register(graph)
    await tester.consume('in', 'k', 1)
    await rejectsWith(tester.consumeBytes('in', 'k', Buffer.from('{not json')), 'TRIB_CODEC', /in\/0 offset 1/)
  })

  it('with badInput skip, an undecodable message is counted and skipped', async () => {
    const seen: number[] = []
    const graph = defineGroup('lenient', input('in', codecs.json<number>(), (_ctx, n: number) => void seen.push(n)))
    const tester = new Tester().register(graph, { badInput: 'skip' })
    await tester.consumeBytes('in', 'k', Buffer.from('oops'))
    await tester.consume('in', 'k', 7)
    assert.deepEqual(seen, [7])
    assert.equal(tester.stats('lenient')[0].skipped, 1)
  })

  it('emit to an undeclared topic, value() without persist, join/lookup/loopback undeclared', async () => {
    const cases: [string, (ctx: Context) => void, RegExp][] = [
      ['emit', (ctx) => ctx.emit('nowhere', 'k', 'v'), /emit to topic "nowhere", which has no output edge; add output\("nowhere", codec\)/],
      ['emit-loop', (ctx) => ctx.emit('c-emit-loop-loop', 'k', 'v'), /emit to the loop topic c-emit-loop-loop; use ctx.loopback/],
      ['value', (ctx) => ctx.value(), /value\(\) without a group table; add persist\(codec\)/],
      ['set', (ctx) => ctx.setValue(1), /setValue\(\) without a group table/],
      ['join', (ctx) => ctx.join('users'), /join\("users"\) of a table that is not joined; add join\("users", codec\)/],
      ['lookup', (ctx) => ctx.lookup('users', 'k'), /lookup\("users"\)/],
      ['loopback', (ctx) => ctx.loopback('k', 'v'), /loopback\(\) without a loop edge/],
    ]
    for (const [name, call, message] of cases) {
      const tester = new Tester().register(defineGroup(`c-${name}`, input('in', str, (ctx) => call(ctx))))
      await rejectsWith(tester.consume('in', 'k', 'x'), 'TRIB_PROCESSOR_UNDECLARED', message)
    }
  })

  it('emit to the own loop or table says what to use instead', async () => {
    const graph = defineGroup('own', input('in', str, (ctx) => ctx.emit(ctx.key === 'l' ? 'own-loop' : 'own-table', 'k', 'v')), persist(str), loop(str, () => {}))
    const tester = new Tester().register(graph)
    await rejectsWith(tester.consume('in', 'l', 'x'), 'TRIB_PROCESSOR_UNDECLARED', /use ctx.loopback/)
    await rejectsWith(tester.consume('in', 't', 'x'), 'TRIB_PROCESSOR_UNDECLARED', /use ctx.setValue/)
  })

  it('a throwing callback and ctx.fail() fail with the cause, and leave no partial writes', async () => {
    const graph = defineGroup(
      'thrower',
      input('in', str, (ctx: Context<string>, m: string) => {
        ctx.setValue(m)
        if (m === 'boom') throw new Error('kaput')
        if (m === 'fail') ctx.fail('bad state')
      }),
      persist(str),
    )
    const tester = new Tester().register(graph)
    await tester.consume('in', 'k', 'ok')
    await rejectsWith(tester.consume('in', 'k', 'boom'), 'TRIB_PROCESSOR_CALLBACK', /in\/0 offset 1 threw: kaput/)
    await rejectsWith(tester.consume('in', 'k', 'fail'), 'TRIB_PROCESSOR_FAILED', /bad state/)
    assert.equal(tester.tableValue('thrower-table', 'k'), 'ok')
  })
})
