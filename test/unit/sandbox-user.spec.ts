import { filesNeeded, isRootUser, resolveUser } from '../../src/adapters/docker/sandbox-user';

const passwd = [
  '# comment',
  'root:x:0:0:root:/root:/bin/sh',
  'node:x:1000:1000::/home/node:/bin/sh',
  'app:x:1001:50::/app:/bin/sh',
  'broken line',
  'nogid:x:1002::::',
].join('\n');
const group = ['root:x:0:', 'node:x:1000:', 'staff:x:50:app', 'dev:x:2000:node'].join('\n');

describe('sandbox user (Docker `User`, resolved as the engine does)', () => {
  it.each(['', 'root', '0', '0:0', 'root:staff', '00'])('%p is root', (spec) => {
    expect(isRootUser(spec)).toBe(true);
  });

  it.each(['node', '1000', '1000:1000', 'app:root'])('%p is not root', (spec) => {
    expect(isRootUser(spec)).toBe(false);
  });

  it('reads only the files a spec needs', () => {
    expect(filesNeeded('1000:1000')).toEqual({ passwd: false, group: false });
    expect(filesNeeded('1000')).toEqual({ passwd: true, group: false });
    expect(filesNeeded('node')).toEqual({ passwd: true, group: false });
    expect(filesNeeded('node:dev')).toEqual({ passwd: true, group: true });
    expect(filesNeeded('1000:dev')).toEqual({ passwd: false, group: true });
  });

  it.each([
    ['node', { uid: 1000, gid: 1000 }],
    ['app', { uid: 1001, gid: 50 }],
    ['1001', { uid: 1001, gid: 50 }], // a uid with a passwd entry takes its group
    ['4321', { uid: 4321, gid: 0 }], // a uid without one runs with gid 0
    ['4321:4321', { uid: 4321, gid: 4321 }],
    ['node:dev', { uid: 1000, gid: 2000 }],
    ['node:77', { uid: 1000, gid: 77 }],
    ['nogid', { uid: 1002, gid: 0 }],
    ['root', { uid: 0, gid: 0 }],
    ['root:staff', { uid: 0, gid: 50 }],
  ])('%p resolves to %p', (spec, ids) => {
    expect(resolveUser(spec, { passwd, group })).toEqual(ids);
  });

  it('an unknown name resolves to null (the engine refuses it by name when it runs)', () => {
    expect(resolveUser('ghost', { passwd, group })).toBeNull();
    expect(resolveUser('node:ghosts', { passwd, group })).toBeNull();
    expect(resolveUser('node', {})).toBeNull(); // no /etc/passwd in the image
    expect(resolveUser('1000', {})).toEqual({ uid: 1000, gid: 0 });
  });
});
