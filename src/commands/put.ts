import { TransferCommand, transferArgs } from '../cli/transfer-command.js';

export default class Put extends TransferCommand {
  static override summary = 'Copy files or directory trees to the master (or -n NODE).';
  static override description =
    'The last argument is the remote destination; with several sources it must be a directory.';
  static override examples = [
    '<%= config.bin %> put mycluster data.csv /home/sgeadmin/',
    '<%= config.bin %> put mycluster -n node001 -u sgeadmin results/ /home/sgeadmin/results',
  ];
  static override args = transferArgs('LOCAL... REMOTE');
  protected readonly direction = 'put';
}
