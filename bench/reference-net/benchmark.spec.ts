import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { probeTorch } from './benchmark';

describe('probeTorch (rir bench --torch checks its interpreter before measuring)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'rir-probe-torch-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in interpreter: a shell script that prints `stderr` / `stdout` and exits with `code`. */
  function fakePython(name: string, { stdout = '', stderr = '', code = 0 }): string {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `#!/bin/sh\nprintf '%s' '${stdout}'\nprintf '%s\\n' "${stderr}" >&2\nexit ${code}\n`,
    );
    chmodSync(file, 0o755);
    return file;
  }

  it('names a missing interpreter and how to pick another', () => {
    const missing = path.join(dir, 'no-such-python3');
    expect(probeTorch(missing)).toEqual({
      error: expect.stringMatching(
        /^no Python interpreter '.*no-such-python3' found: the PyTorch baseline needs Python 3 with torch \(pass --python PATH/,
      ),
    });
  });

  it('says that torch is not installed, and how to install it', () => {
    const python = fakePython('python-without-torch', {
      stderr: "ModuleNotFoundError: No module named 'torch'",
      code: 1,
    });
    expect(probeTorch(python)).toEqual({
      error: expect.stringMatching(
        /^PyTorch is not installed for .*python-without-torch \(ModuleNotFoundError: No module named 'torch'\): install it \(pip install torch, or apt-get install python3-torch/,
      ),
    });
  });

  it("reports torch's version when it imports", () => {
    expect(probeTorch(fakePython('python-with-torch', { stdout: '1.13.1\n' }))).toEqual({
      version: '1.13.1',
    });
  });
});
