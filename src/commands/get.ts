import { TransferCommand, transferArgs } from '../cli/transfer-command.js';

export default class Get extends TransferCommand {
  static override summary = 'Copy files or directory trees from the master (or -n NODE) to this machine.';
  static override description =
    'The last argument is the local destination; with several sources it must be a directory.';
  static override examples = [
    '<%= config.bin %> get mycluster /home/sgeadmin/results ./results',
    '<%= config.bin %> get mycluster -n node002 /var/log/syslog .',
  ];
  static override args = transferArgs('REMOTE... LOCAL');
  protected readonly direction = 'get';
}
