/**
 * The SQL front end: node-sql-parser (MySQL dialect, which matches Harper's
 * backtick quoting of `database`.`table`).
 */
import type { Parser } from 'node-sql-parser';
import { lazyModule } from '../../../kernel/index.js';
import { invalid } from './params.js';
import type { SqlNode } from './sql-expression.js';

// Loaded on the first SQL request, not at start-up: the grammar costs ~14 MiB of RSS.
const library = lazyModule<typeof import('node-sql-parser')>(import.meta.url, 'node-sql-parser');
let instance: Parser | undefined;
const parser = (): Parser => (instance ??= new (library().Parser)());

/** Parses exactly one statement; any syntax error gets Harper's message. */
export const parseStatement = (sql: string): SqlNode => {
  let ast: unknown;
  try {
    ast = parser().astify(sql);
  } catch {
    throw invalid(
      `Invalid SQL at: ${sql}. Please ensure your SQL is valid. Try adding backticks to reserved words and schema table references.`,
    );
  }
  const statements = (Array.isArray(ast) ? ast : [ast]) as SqlNode[];
  if (statements.length !== 1) throw invalid('Only one SQL statement may be run per request');
  return statements[0]!;
};

/** An expression's SQL text, unquoted, for naming an un-aliased SELECT column (`COUNT(*)`). */
export const expressionText = (node: SqlNode): string => parser().exprToSQL(node as never).replace(/`/g, '');
