import { ec2Error } from './errors.js';

/**
 * A fault planned for calls of one action: from its `call`-th call after the rule was added
 * (1-based, default the next one) for `times` calls in a row (default 1; Infinity: every later call).
 */
export interface FaultRule {
  /** EC2 action (`RunInstances`), `ssm:GetParameter`, or `*` for every call. */
  action: string;
  call?: number;
  times?: number;
  /** Answer with this AWS error code instead of the real answer. */
  error?: string;
  message?: string;
  /** The call takes effect, then its answer is lost: the caller sees `error` (default RequestTimeout). */
  lost?: boolean;
  /** Runs before the call is answered (e.g. aborts the caller's signal); the call then proceeds. */
  before?: (input: unknown) => void;
}

export interface CallRecord {
  action: string;
  input: unknown;
  /** The AWS error code the call was answered with, if any. */
  error?: string;
}

/** The fault plan and the log of every call, with per-action counts. */
export class Faults {
  readonly calls: CallRecord[] = [];
  private readonly rules: { rule: FaultRule; base: number }[] = [];
  private readonly counts = new Map<string, number>();

  add(rule: FaultRule): this {
    this.rules.push({ rule, base: this.count(rule.action === '*' ? undefined : rule.action) });
    return this;
  }

  /** Fail the `call`-th call of `action` from now (and `times - 1` after it) with `error`. */
  fail(action: string, error: string, opts: Omit<FaultRule, 'action' | 'error'> = {}): this {
    return this.add({ action, error, ...opts });
  }

  /** Run `before` when the `call`-th call of `action` from now arrives (the call is then answered as usual). */
  on(action: string, before: (input: unknown) => void, opts: Pick<FaultRule, 'call' | 'times'> = {}): this {
    return this.add({ action, before, ...opts });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** How many calls of the action were made (all of them with no action). */
  count(action?: string): number {
    return action === undefined ? this.calls.length : (this.counts.get(action) ?? 0);
  }

  /** Logs the call; returns the rules that apply to it. */
  arrive(action: string, input: unknown): { record: CallRecord; rules: FaultRule[] } {
    const n = (this.counts.get(action) ?? 0) + 1;
    this.counts.set(action, n);
    const record: CallRecord = { action, input };
    this.calls.push(record);
    const total = this.calls.length;
    const rules = this.rules
      .filter(({ rule, base }) => {
        if (rule.action !== action && rule.action !== '*') return false;
        const nth = (rule.action === '*' ? total : n) - base;
        const first = rule.call ?? 1;
        return nth >= first && nth < first + (rule.times ?? 1);
      })
      .map(({ rule }) => rule);
    return { record, rules };
  }

  /** Answers a call through the plan: hooks, planned errors before or after the real answer. */
  async answer<T>(action: string, input: unknown, real: () => T | Promise<T>): Promise<T> {
    const { record, rules } = this.arrive(action, input);
    try {
      for (const r of rules) r.before?.(input);
      const early = rules.find((r) => r.error && !r.lost);
      if (early) throw ec2Error(early.error ?? '', early.message ?? `injected fault: ${early.error} on ${action}`);
      const out = await real();
      const lost = rules.find((r) => r.lost);
      if (lost)
        throw ec2Error(lost.error ?? 'RequestTimeout', lost.message ?? `injected: the answer to ${action} was lost`);
      return out;
    } catch (error) {
      record.error = (error as { name?: string }).name ?? 'Error';
      throw error;
    }
  }
}
