// What Linux says about processes and the machine (/proc): CPU seconds and
// resident memory per process, machine-wide CPU time split (busy, I/O wait,
// steal), and a description of the machine for reports.

import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';

const CLOCK_TICKS = 100;

/** User + system CPU seconds of a process so far; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes; 0 when it is gone. */
export function rssBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Machine-wide CPU time counters (seconds, all CPUs together). */
export interface SystemCpu {
  busy: number;
  iowait: number;
  steal: number;
  idle: number;
}

export function systemCpu(): SystemCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system + irq + softirq) / CLOCK_TICKS, iowait: iowait / CLOCK_TICKS, steal: steal / CLOCK_TICKS, idle: idle / CLOCK_TICKS };
}

/** Shares (0..1 of all CPUs) of busy, I/O wait and steal time between two readings. */
export function cpuShares(before: SystemCpu, after: SystemCpu): { busy: number; iowait: number; steal: number } {
  const d = (k: keyof SystemCpu) => after[k] - before[k];
  const total = d('busy') + d('iowait') + d('steal') + d('idle');
  if (total <= 0) return { busy: 0, iowait: 0, steal: 0 };
  return { busy: d('busy') / total, iowait: d('iowait') / total, steal: d('steal') / total };
}

export interface MachineInfo {
  cpus: number;
  cpu_model: string;
  memory_gb: number;
  kernel: string;
  node: string;
  load_average_1m: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    load_average_1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** One line for reports: "2 × Intel(R) Xeon(R) Processor, 24 GB, Linux 6.1, Node v20.20.2". */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpus} × ${m.cpu_model}, ${m.memory_gb} GB RAM, Linux ${m.kernel}, Node ${m.node}`;
}
