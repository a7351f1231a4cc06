/** Numeric owner of what the sandbox's user writes. */
export interface UserIds {
  uid: number;
  gid: number;
}

export const ROOT_IDS: UserIds = { uid: 0, gid: 0 };

const NUMERIC = /^\d+$/;

/** True when Docker's `User` (`''`, `root`, `0`, `0:0`, `root:wheel`, …) runs as uid 0. */
export function isRootUser(spec: string | undefined): boolean {
  const user = (spec ?? '').split(':')[0]!;
  return user === '' || user === 'root' || (NUMERIC.test(user) && Number(user) === 0);
}

/** What a `User` spec needs read from the image to resolve: `/etc/passwd`, `/etc/group`. */
export function filesNeeded(spec: string): { passwd: boolean; group: boolean } {
  const [user = '', group] = spec.split(':');
  return {
    // A numeric uid without a group takes its gid from passwd when it has an entry there.
    passwd: !NUMERIC.test(user) || group === undefined,
    group: group !== undefined && !NUMERIC.test(group),
  };
}

/** `name:x:uid:gid:…` lines (and `name:x:gid:…` for group files), comments and junk skipped. */
function entries(file: string | undefined): { name: string; id: number; gid: number }[] {
  const out: { name: string; id: number; gid: number }[] = [];
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#') || !NUMERIC.test(f[2]!)) continue;
    out.push({ name: f[0]!, id: Number(f[2]), gid: NUMERIC.test(f[3] ?? '') ? Number(f[3]) : -1 });
  }
  return out;
}

/**
 * Resolves Docker's `User` the way the engine's runtime (runc) does: `user` or `uid`, optionally
 * `:group` or `:gid`; a name is looked up in the image's `/etc/passwd` / `/etc/group`, a number
 * is taken as is (with the passwd entry's group when it has one, else gid 0). Returns `null` when
 * a name is not in the files: the engine refuses such a user itself when it runs anything.
 */
export function resolveUser(
  spec: string,
  files: { passwd?: string; group?: string },
): UserIds | null {
  if (isRootUser(spec) && !spec.includes(':')) return ROOT_IDS;
  const [user = '', group] = spec.split(':');
  const pw = entries(files.passwd).find((e) =>
    NUMERIC.test(user) ? e.id === Number(user) : e.name === user,
  );
  let uid: number;
  let gid = 0;
  if (pw) {
    uid = pw.id;
    if (pw.gid >= 0) gid = pw.gid;
  } else if (NUMERIC.test(user)) {
    uid = Number(user);
  } else {
    return null;
  }
  if (group !== undefined) {
    if (NUMERIC.test(group)) gid = Number(group);
    else {
      const gr = entries(files.group).find((e) => e.name === group);
      if (!gr) return null;
      gid = gr.id;
    }
  }
  return { uid, gid };
}
