import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import type { PublicImage } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ListPublic extends BaseCommand<typeof ListPublic> {
  static override summary = 'List the image aliases NODE_IMAGE_ID accepts, with the AMI ids they resolve to.';
  static override description =
    'Each alias (debian-12, ubuntu-24.04, ubuntu-22.04, al2023) names the public SSM parameter its ' +
    'publisher keeps pointing at the newest AMI, one per architecture. `start` reads the one for the ' +
    "instance type's architecture (x86_64, or arm64 for Graviton types such as t4g or m7g); this " +
    'command shows what each resolves to in the region now. "-" means the region has no such image.';
  static override aliases = ['lp'];
  static override examples = ['<%= config.bin %> listpublic', '<%= config.bin %> listpublic --region eu-west-1 --json'];

  async run(): Promise<{ region: string; regionSource?: string; images: PublicImage[] }> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const result = await account.listPublicImages();
    this.io.log(
      `Image aliases in ${result.region}${result.regionSource ? ` (region from ${result.regionSource})` : ''}:`,
    );
    this.io.log(
      table(
        ['alias', 'arch', 'ami', 'login', 'name'],
        result.images.map((i) => [i.alias, i.architecture, i.imageId ?? '-', i.loginUser, i.imageName ?? '-']),
      ),
    );
    return result;
  }
}
