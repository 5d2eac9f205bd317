// The server's cloud-init user data. Written as JSON after the #cloud-config header:
// JSON is YAML, so cloud-init reads it, and building it as an object leaves no room
// for YAML quoting mistakes.
//
// What it does at first boot: a deploy user with the operator's key and passwordless
// sudo (the deploy tool's host setup needs root), no password logins, root login off,
// the pre-generated host key installed (and no other generated), and the data volume
// prepared and mounted, LUKS-encrypted first when asked.

export interface CloudInitOptions {
  deployUser: string;
  authorizedKey: string;
  hostKey: { privateKey: string; publicKey: string };
  /** /dev/disk/by-id/scsi-0HC_Volume_<id> (the API's linux_device). */
  volumeDevice: string;
  /** Mount point of the data volume. */
  dataRoot: string;
  encryptVolume: boolean;
}

/** Name of the dm-crypt mapping of the encrypted volume. */
export const CRYPT_NAME = 'bpe-data';
export const VOLUME_KEY_FILE = '/etc/bpe/volume.key';

/**
 * Prepares and mounts the data volume; safe to run again (each step checks first).
 * With encryption: a random key file on the root disk unlocks the volume at boot
 * (crypttab). That protects the volume's data wherever the volume goes without this
 * server (detached, snapshotted, reused storage); it does not protect against someone
 * who controls the running server. Keep a copy of the key off the host.
 */
export function mountScript(options: Pick<CloudInitOptions, 'volumeDevice' | 'dataRoot' | 'encryptVolume'>): string {
  const lines = [
    '#!/bin/bash',
    '# Written by provisioning (deploy/provision/cloud-init.ts): prepare and mount the data volume.',
    'set -euo pipefail',
    `device='${options.volumeDevice}'`,
    `mountpoint='${options.dataRoot}'`,
    'for _ in $(seq 1 120); do [ -b "$device" ] && break; sleep 1; done',
    '[ -b "$device" ] || { echo "data volume $device not attached" >&2; exit 1; }',
  ];
  if (options.encryptVolume) {
    lines.push(
      `key='${VOLUME_KEY_FILE}'`,
      'if [ ! -s "$key" ]; then install -d -m 0700 "$(dirname "$key")"; (umask 077; head -c 64 /dev/urandom > "$key"); fi',
      'cryptsetup isLuks "$device" || cryptsetup luksFormat --batch-mode --type luks2 --key-file "$key" "$device"',
      `grep -q '^${CRYPT_NAME} ' /etc/crypttab 2>/dev/null || echo "${CRYPT_NAME} $device $key luks,discard" >> /etc/crypttab`,
      `[ -b /dev/mapper/${CRYPT_NAME} ] || cryptsetup open --key-file "$key" "$device" ${CRYPT_NAME}`,
      `device=/dev/mapper/${CRYPT_NAME}`,
    );
  }
  lines.push(
    // Format only a blank device: a volume that already holds a file system keeps its data.
    'blkid "$device" >/dev/null 2>&1 || mkfs.ext4 -q -L bpe-data "$device"',
    'mkdir -p "$mountpoint"',
    'grep -q " $mountpoint " /etc/fstab || echo "$device $mountpoint ext4 defaults,nofail,discard 0 2" >> /etc/fstab',
    'mountpoint -q "$mountpoint" || mount "$mountpoint"',
    '',
  );
  return lines.join('\n');
}

export const MOUNT_SCRIPT_PATH = '/usr/local/sbin/bpe-mount-data';

export function cloudConfig(options: CloudInitOptions): Record<string, unknown> {
  return {
    users: [
      {
        name: options.deployUser,
        groups: ['sudo'],
        shell: '/bin/bash',
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        lock_passwd: true,
        ssh_authorized_keys: [options.authorizedKey.trim()],
      },
    ],
    disable_root: true,
    ssh_pwauth: false,
    // Our host key only: remove the image's, generate none, install ours.
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    ssh_keys: { ed25519_private: options.hostKey.privateKey, ed25519_public: options.hostKey.publicKey },
    package_update: true,
    packages: options.encryptVolume ? ['cryptsetup'] : [],
    write_files: [
      {
        // Before the first deploy hardens sshd fully (deploy/ssh/commands/host.ts).
        path: '/etc/ssh/sshd_config.d/05-provision.conf',
        permissions: '0644',
        content: 'PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n',
      },
      { path: MOUNT_SCRIPT_PATH, permissions: '0700', content: mountScript(options) },
    ],
    runcmd: [[MOUNT_SCRIPT_PATH], ['systemctl', 'reload', 'ssh']],
  };
}

export function userData(options: CloudInitOptions): string {
  return `#cloud-config\n${JSON.stringify(cloudConfig(options), null, 2)}\n`;
}
