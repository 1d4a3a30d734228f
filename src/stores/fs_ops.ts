/**
 * The file-system calls the Node driver makes, gathered in one object so tests can inject faults
 * (a full disk, a permission error, an I/O error at the N-th write) without touching a real device.
 */
import * as fsp from 'node:fs/promises';

export type FsOps = Pick<typeof fsp, 'open' | 'mkdir' | 'rename' | 'rm' | 'readdir' | 'stat'> &
  /** Used to claim a single file's name at commit (fails when the name is taken); without it, a check then a rename. */
  Partial<Pick<typeof fsp, 'link'>>;

export const nodeFs: FsOps = {
  open: fsp.open,
  mkdir: fsp.mkdir,
  rename: fsp.rename,
  rm: fsp.rm,
  readdir: fsp.readdir,
  stat: fsp.stat,
  link: fsp.link,
};
