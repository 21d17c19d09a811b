import { initBackend, tf } from './index';

describe('initBackend', () => {
  it('starts a real backend and reports it', async () => {
    const info = await initBackend(process.env.TFJS_BACKEND);
    expect(['wasm', 'tensorflow']).toContain(info.name);
    expect(tf.getBackend()).toBe(info.name);
  });
});
