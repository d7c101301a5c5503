/**
 * Fetches a Java server's jars from Maven Central with a throw-away pom and
 * `mvn dependency:copy-dependencies`, into a cache folder that is reused once complete.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TributaryError } from '../../core/errors.js';
import { requireCommand, runCommand } from './commands.js';

export interface MavenArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

const COMPLETE_MARKER = '.complete';

function pom(name: string, artifacts: readonly MavenArtifact[]): string {
  const deps = artifacts
    .map(
      (a) =>
        `    <dependency><groupId>${a.groupId}</groupId><artifactId>${a.artifactId}</artifactId>` +
        `<version>${a.version}</version></dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tributary.stack</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

/**
 * Makes sure `dir/lib` holds the artifacts and all their runtime dependencies.
 * Returns the lib folder. Does nothing when a previous fetch completed.
 */
export async function fetchJars(
  dir: string,
  name: string,
  artifacts: readonly MavenArtifact[],
): Promise<string> {
  const lib = path.join(dir, 'lib');
  if (existsSync(path.join(dir, COMPLETE_MARKER))) return lib;
  await requireCommand('java', `running ${name}`);
  await requireCommand('mvn', `fetching ${name} from Maven Central`);
  await rm(lib, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'pom.xml'), pom(name, artifacts));
  const result = await runCommand(
    'mvn',
    ['-B', '-q', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${lib}`],
    { cwd: dir },
  );
  if (result.code !== 0) {
    const errors = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((line) => line.includes('ERROR'))
      .slice(0, 15)
      .join('\n');
    const coordinates = artifacts.map((a) => `${a.groupId}:${a.artifactId}:${a.version}`).join(', ');
    throw new TributaryError(
      'FETCH_FAILED',
      `could not fetch ${coordinates} from Maven Central:\n${errors}`,
      {
        retriable: true,
      },
    );
  }
  await writeFile(path.join(dir, COMPLETE_MARKER), new Date().toISOString());
  return lib;
}
