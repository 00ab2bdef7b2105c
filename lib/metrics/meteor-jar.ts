/**
 * COCO METEOR: METEOR 1.5 (a Java program) run the way pycocoevalcap runs it:
 * `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`, in the jar's folder, with LC_ALL=C.
 * Its stdin protocol: one `SCORE ||| ref1 ||| ... ||| refN ||| hyp` line per image answers one line of
 * statistics; then `EVAL ||| stats1 ||| ... ||| statsN` answers N per-image scores and the corpus
 * score (METEOR aggregates the statistics, the corpus value is not a mean of the per-image scores).
 *
 * pycocoevalcap keeps one interactive process; here two short synchronous runs do the same work (the
 * first sends every SCORE line, the second the EVAL line), so that `scoreCaptions` stays synchronous.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TorchCaptionError } from '../errors.js';

export interface MeteorJarOptions {
  /** Path of meteor-1.5.jar. */
  jar: string;
  /** Java executable (default `java`, found on PATH). */
  java?: string;
}

export interface MeteorJarResult {
  corpus: number;
  perImage: number[];
}

/** Why COCO METEOR cannot run here, or null when the jar and Java are both usable. */
export function meteorUnavailableReason(opts: { jar?: string; java?: string }): string | null {
  if (!opts.jar) {
    return 'no METEOR 1.5 jar was given (option meteorJar, CLI --meteor-jar or env METEOR_JAR)';
  }
  const jar = resolve(opts.jar);
  if (!existsSync(jar) || !statSync(jar).isFile()) return `the METEOR jar ${jar} does not exist`;
  const java = opts.java ?? 'java';
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error || probe.status !== 0) {
    return `Java could not be started (${java} -version failed${probe.error ? `: ${probe.error.message}` : ''}); install a Java runtime (e.g. apt-get install default-jre-headless)`;
  }
  return null;
}

function runMeteor(opts: MeteorJarOptions, input: string, expectedLines: number): string[] {
  const jar = resolve(opts.jar);
  const res = spawnSync(
    opts.java ?? 'java',
    ['-jar', '-Xmx2G', jar, '-', '-', '-stdio', '-l', 'en', '-norm'],
    {
      input,
      cwd: dirname(jar),
      env: { ...process.env, LC_ALL: 'C' },
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      timeout: 30 * 60_000,
    },
  );
  if (res.error || res.status !== 0) {
    const why = res.error ? res.error.message : `exit code ${res.status}`;
    const err = (res.stderr ?? '').trim().split('\n').slice(-3).join(' / ');
    throw new TorchCaptionError(`METEOR 1.5 (${jar}) failed: ${why}${err ? ` (${err})` : ''}`);
  }
  const lines = res.stdout.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length < expectedLines) {
    throw new TorchCaptionError(
      `METEOR 1.5 (${jar}) answered ${lines.length} lines where ${expectedLines} were expected; is it meteor-1.5.jar?`,
    );
  }
  return lines.slice(0, expectedLines);
}

/** Run METEOR 1.5 on tokenized captions (pycocoevalcap's `Meteor().compute_score`). */
export function meteorJarScore(
  opts: MeteorJarOptions,
  images: ReadonlyArray<{ hyp: string; refs: readonly string[] }>,
): MeteorJarResult {
  const clean = (s: string): string => s.replace(/\|\|\|/g, '').replace(/\n/g, ' ');
  const scoreLines = images.map(
    (img) => `SCORE ||| ${img.refs.map(clean).join(' ||| ')} ||| ${clean(img.hyp).replace(/ {2}/g, ' ')}\n`,
  );
  const stats = runMeteor(opts, scoreLines.join(''), images.length);
  const evalLine = `EVAL ||| ${stats.join(' ||| ')}\n`;
  const out = runMeteor(opts, evalLine, images.length + 1);
  const nums = out.map((l) => Number.parseFloat(l));
  if (nums.some((x) => !Number.isFinite(x))) {
    throw new TorchCaptionError(`METEOR 1.5 answered something that is not a score: ${JSON.stringify(out.slice(0, 3))}`);
  }
  return { perImage: nums.slice(0, images.length), corpus: nums[images.length] };
}
