/** Types of scripts/tools.mjs (plain JavaScript: it runs before `npm ci`). */
export interface Tool {
  /** a command on PATH, or a file when `file` is set */
  readonly name: string;
  /** the Debian package that provides it */
  readonly apt: string;
  /** what needs it */
  readonly neededBy: string;
  readonly file?: string;
  readonly env?: string;
}
export const TOOLS: readonly Tool[];
export function tool(name: string): Tool;
export function which(cmd: string, env?: NodeJS.ProcessEnv): string | undefined;
export function present(t: Tool, env?: NodeJS.ProcessEnv): boolean;
export function missingTools(env?: NodeJS.ProcessEnv, tools?: readonly Tool[]): Tool[];
export function installCommand(packages: readonly string[], root?: boolean): string;
export class MissingToolError extends Error {
  constructor(name: string, neededBy?: string);
  readonly code: 'MISSING_TOOL';
  readonly tool: string;
  readonly apt: string;
}
export function nodeTooOld(who: string, version?: string): string | undefined;
