/**
 * StarCluster took its global options before the command: `starcluster -c FILE -r REGION -d start
 * mycluster`. oclif takes flags after the command id, so the entry points (bin/run.js, bin/dev.js)
 * move the leading global options behind the command's own words before oclif sees them:
 *
 *   -c FILE | --config FILE | --config=FILE | -cFILE   →  --config FILE
 *   -r REGION | --region REGION | --region=REGION       →  --region REGION
 *   -d | --debug                                        →  --debug
 *   -h                                                  →  --help
 *
 * Short options combine as optparse allowed (`-dc FILE`). The options go just before a `--` if the
 * command line has one (what follows it belongs to a remote command), else at the end. An option
 * the command line also gives after the command wins over the leading one. Nothing after the
 * first word that is not a leading global option is touched, so `start -c TEMPLATE` keeps
 * start's own `-c`.
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const hoisted: string[][] = [];
  let i = 0;
  const valued = { c: '--config', r: '--region' } as const;
  scan: while (i < argv.length) {
    const token = argv[i] ?? '';
    const long = /^--(config|region)(?:=(.*))?$/.exec(token);
    if (long) {
      const value = long[2] ?? argv[i + 1];
      if (value === undefined) break;
      hoisted.push([`--${long[1]}`, value]);
      i += long[2] === undefined ? 2 : 1;
      continue;
    }
    if (token === '--debug') {
      hoisted.push(['--debug']);
      i += 1;
      continue;
    }
    if (/^-[a-zA-Z]/.test(token) && !token.startsWith('--')) {
      // A cluster of short options: -d, -dc FILE, -cFILE, -dr us-east-1.
      const letters = token.slice(1);
      const found: string[][] = [];
      let consumed = 1;
      for (let k = 0; k < letters.length; k++) {
        const letter = letters[k] as string;
        if (letter === 'd') found.push(['--debug']);
        else if (letter === 'h') found.push(['--help']);
        else if (letter === 'c' || letter === 'r') {
          const rest = letters.slice(k + 1);
          const value = rest || argv[i + 1];
          if (value === undefined) break scan;
          found.push([valued[letter], value]);
          if (!rest) consumed = 2;
          break;
        } else break scan; // not a global option: leave the line as it is from here
      }
      hoisted.push(...found);
      i += consumed;
      continue;
    }
    break;
  }
  if (hoisted.length === 0) return [...argv];
  const rest = argv.slice(i);
  // No command: oclif's root help (StarCluster printed its usage too).
  if (rest.length === 0) return [];
  const given = (flag: string): boolean =>
    rest.some((t, k) => (t === flag || t.startsWith(`${flag}=`)) && !rest.slice(0, k).includes('--'));
  const moved = hoisted.filter(([flag]) => !given(flag as string)).flat();
  const dashdash = rest.indexOf('--');
  return dashdash === -1 ? [...rest, ...moved] : [...rest.slice(0, dashdash), ...moved, ...rest.slice(dashdash)];
}
