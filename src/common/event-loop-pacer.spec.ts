import { EventLoopPacer } from './event-loop-pacer';

describe('EventLoopPacer', () => {
  it('keeps the thread while the slice lasts', async () => {
    const pacer = new EventLoopPacer(1e9);
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    for (let i = 0; i < 100; i++) expect(await pacer.tick()).toBe(false);
    expect(immediateRan).toBe(false);
    expect(pacer.yieldCount).toBe(0);
  });

  it('hands the event loop back once the slice is used up, so queued callbacks run in between', async () => {
    const pacer = new EventLoopPacer(0);
    const order: string[] = [];
    setImmediate(() => order.push('callback'));
    order.push('work 1');
    expect(await pacer.tick()).toBe(true);
    order.push('work 2');
    expect(order).toEqual(['work 1', 'callback', 'work 2']);
    expect(pacer.yieldCount).toBe(1);
  });

  it('rejects a slice that is not a non-negative number', () => {
    expect(() => new EventLoopPacer(-1)).toThrow('non-negative');
    expect(() => new EventLoopPacer(Number.NaN)).toThrow('non-negative');
  });
});
