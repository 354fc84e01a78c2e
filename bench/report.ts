/**
 * Result rows, the printed table and the JSON files. A figure is the median
 * of several runs with their spread (min–max); the ratio is Plexus ÷ Harper
 * (the median of per-run ratios where both ran in alternating runs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Figure {
  /** Median over runs (or the single run's value). */
  readonly value: number;
  /** Lowest and highest run. */
  readonly spread?: readonly [number, number];
  /** Free text, e.g. latency percentiles or a count. */
  readonly detail?: string;
  /** Set when the measurement did not finish (the value is then a bound or NaN). */
  readonly failed?: string;
}

export interface Target {
  readonly text: string;
  /** True/false once measurable, undefined when the run lacks the figures it compares. */
  readonly met: boolean | undefined;
}

export interface Row {
  readonly name: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  plexus?: Figure;
  harper?: Figure;
  ceiling?: Figure;
  /** Plexus ÷ Harper. */
  ratio?: number;
  /** Plexus as a fraction of the ceiling. */
  ofCeiling?: number;
  target?: Target;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};

export const figureOf = (runs: readonly number[], detail?: string): Figure => ({
  value: median(runs),
  ...(runs.length > 1 ? { spread: [Math.min(...runs), Math.max(...runs)] as const } : {}),
  ...(detail ? { detail } : {}),
});

const number = (v: number): string =>
  !Number.isFinite(v) ? '—' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);

function formatFigure(f: Figure | undefined): string {
  if (!f) return '—';
  if (f.failed) return `✗ ${f.failed}`;
  return f.spread ? `${number(f.value)} (${number(f.spread[0])}–${number(f.spread[1])})` : number(f.value);
}

const ratioText = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? '—' : `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`);

/** Fills ratio/ofCeiling and evaluates each row's target from its figures. */
export function finishRow(row: Row, targetOf?: (row: Row) => Target | undefined): Row {
  const ok = (f?: Figure): f is Figure => f !== undefined && !f.failed && Number.isFinite(f.value);
  if (ok(row.plexus) && ok(row.harper) && row.ratio === undefined) row.ratio = row.plexus.value / row.harper.value;
  if (ok(row.plexus) && ok(row.ceiling) && row.ofCeiling === undefined) row.ofCeiling = row.plexus.value / row.ceiling.value;
  const target = targetOf?.(row);
  if (target) row.target = target;
  return row;
}

const HEADER = ['workload', 'unit', 'Plexus', 'Harper', 'Plexus ÷ Harper', 'ceiling', 'Plexus % of ceiling', 'target'];

function cellsOf(r: Row): string[] {
  return [
    r.name,
    r.unit,
    formatFigure(r.plexus),
    formatFigure(r.harper),
    ratioText(r.ratio),
    formatFigure(r.ceiling),
    r.ofCeiling === undefined ? '—' : `${(r.ofCeiling * 100).toFixed(0)}%`,
    r.target ? `${r.target.text}: ${r.target.met === undefined ? '?' : r.target.met ? 'met' : 'MISSED'}` : '',
  ];
}

/** The same table in Markdown (for the README). */
const markdownTable = (rows: readonly Row[]): string =>
  [HEADER, HEADER.map(() => '---'), ...rows.map(cellsOf)].map((c) => `| ${c.join(' | ')} |`).join('\n') + '\n';

export function printTable(title: string, rows: readonly Row[]): void {
  const cells = rows.map(cellsOf);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((v, i) => v.padEnd(widths[i]!)).join(' │ ');
  console.log(`\n${title}\n`);
  console.log(line(HEADER));
  console.log(widths.map((w) => '─'.repeat(w)).join('─┼─'));
  for (const c of cells) console.log(line(c));
  const details = rows.filter((r) => r.plexus?.detail || r.harper?.detail);
  if (details.length) {
    console.log('');
    for (const r of details) {
      console.log(`${r.name}: ${[r.plexus?.detail && `Plexus ${r.plexus.detail}`, r.harper?.detail && `Harper ${r.harper.detail}`].filter(Boolean).join('; ')}`);
    }
  }
}

/** bench/results in the source tree (dist/bench → ../../bench/results). */
const resultsDir = (): string => join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

export interface ResultFile {
  readonly kind: string;
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly memoryGiB: number; readonly node: string; readonly loadAverage: readonly number[] };
  readonly command: string;
  readonly notes: readonly string[];
  readonly rows: readonly Row[];
}

/**
 * Writes `<kind>.json` and `<kind>.md` (the latest run, meant to be committed)
 * and a copy of the JSON under `runs/` with a timestamp (git-ignored history).
 * Returns the paths.
 */
export function writeResults(result: ResultFile): string[] {
  const dir = resultsDir();
  mkdirSync(join(dir, 'runs'), { recursive: true });
  const text = JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
  const latest = join(dir, `${result.kind}.json`);
  const stamped = join(dir, 'runs', `${result.kind}-${result.date.replace(/[:.]/g, '-')}.json`);
  const markdown = join(dir, `${result.kind}.md`);
  writeFileSync(latest, text);
  writeFileSync(stamped, text);
  writeFileSync(markdown, `${result.command} — ${result.date}\n\n${markdownTable(result.rows)}${result.notes.map((n) => `\nNote: ${n}\n`).join('')}`);
  return [latest, markdown, stamped];
}

/** Harper's figures from the last committed comparison, as a reference for Plexus-only runs. */
export function harperReference(): { readonly date: string; readonly rows: ReadonlyMap<string, Figure> } | undefined {
  const file = join(resultsDir(), 'compare.json');
  if (!existsSync(file)) return undefined;
  const result = JSON.parse(readFileSync(file, 'utf8')) as ResultFile;
  const rows = new Map<string, Figure>();
  for (const row of result.rows) if (row.harper && !row.harper.failed && row.harper.value !== null) rows.set(row.name, row.harper);
  return rows.size ? { date: result.date, rows } : undefined;
}
