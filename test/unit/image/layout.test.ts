import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { lighttpdConfig } from '../../../build/server';
import { nodeLighttpdTemplate } from '../../../build/image/image';
import { DIST } from '../../../build/build';
import {
  GRUB_ENTRIES, ISO_GOAL_BYTES, ISO_LIMIT_BYTES, KIOSK_BUDGET, NODE_NAME_PLACEHOLDER, fillNodeName, grubConfig, imageSizeReport, kernelPackage,
  nodeLighttpdConfig, partOf, fillNodeAddress, preparedGrubEntries, grubMkrescueArgs, partSquashfsOpts,
} from '../../../build/image/layout';

const P = suite('partOf');
P('should send each root path to its part', () => {
  const cases: [string, string][] = [
    ['/opt/ramvm/dist/cgi/access.cgi', 'ramvm'],
    ['/usr/lib/modules/6.1.0-56-amd64/kernel/drivers/block/drbd/drbd.ko', 'modules'],
    ['/usr/bin/node', 'node'],
    ['/usr/bin/qemu-system-x86_64', 'qemu'],
    ['/usr/bin/qemu-img', 'qemu'],
    ['/usr/share/seabios/bios-256k.bin', 'qemu'],
    ['/usr/lib/ipxe/qemu/efi-virtio.rom', 'qemu'],
    ['/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so', 'qemu'],
    ['/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0', 'base'],
    ['/usr/bin/nodejs-extra', 'base'],
    ['/opt/ramvmx', 'base'],
    ['/etc/inittab', 'base'],
  ];
  for (const [path, part] of cases) assert.is(partOf(path), part, path);
});
P.run();

const G = suite('grubConfig');
G('should boot each entry with its parameters on screen and serial console', () => {
  const cfg = grubConfig('/boot/vmlinuz', '/boot/initrd.img');
  assert.is((cfg.match(/^menuentry /gm) ?? []).length, GRUB_ENTRIES.length);
  assert.match(cfg, /linux \/boot\/vmlinuz quiet panic=10 console=tty0 console=ttyS0,115200 ramonly\n  initrd \/boot\/initrd.img/);
  assert.match(cfg, /^terminal_output console serial$/m);
});
G('should strip quotes that would end a title', () => {
  assert.match(grubConfig('/k', '/i', [{ title: "it's", params: [] }]), /menuentry 'its' \{/);
});
G.run();

const Q = suite('partSquashfsOpts');
Q('should give node 1 MiB blocks and every other part 128 KiB ones, zstd -19 throughout', () => {
  const block = (o: string[]) => o[o.indexOf('-b') + 1];
  assert.is(block(partSquashfsOpts('node')), '1024K');
  for (const p of ['ramvm', 'base', 'qemu', 'modules'] as const) assert.is(block(partSquashfsOpts(p)), '128K', p);
  assert.equal(partSquashfsOpts('base').slice(0, 4), ['-comp', 'zstd', '-Xcompression-level', '19']);
});
Q.run();

const M = suite('grubMkrescueArgs');
M('should install only the menu\'s GRUB modules, volume RAMVM, no fonts, locales or themes', () => {
  const a = grubMkrescueArgs('/s/iso', '/o/x.iso.tmp');
  assert.is(a[0], 'grub-mkrescue');
  assert.ok(a.includes('--install-modules=normal linux serial terminal echo test configfile reboot halt iso9660 part_msdos part_gpt fat search search_fs_uuid search_fs_file search_label all_video'));
  assert.equal(a.slice(-6), ['-o', '/o/x.iso.tmp', '/s/iso', '--', '-volid', 'RAMVM']);
  for (const o of ['--fonts=', '--locales=', '--themes=']) assert.ok(a.includes(o), o);
});
M.run();

const L = suite('nodeLighttpdConfig');
const host = { dist: DIST, nodeExec: process.execPath, path: process.env.PATH ?? '' };
L('should map the build paths of the real config to the node paths', () => {
  const conf = nodeLighttpdConfig(lighttpdConfig({ root: '/', listen: '0.0.0.0', port: 8006, node: NODE_NAME_PLACEHOLDER, runAs: 'ramvm', errorlog: '/var/log/lighttpd-error.log' }), host);
  assert.match(conf, /server.document-root = "\/opt\/ramvm\/dist\/www"/);
  assert.match(conf, /cgi.assign = \( ".cgi" => "\/usr\/bin\/node" \)/);
  assert.match(conf, /"PATH" => "\/usr\/sbin:\/usr\/bin:\/sbin:\/bin"/);
  assert.match(conf, /"RAMVM_ROOT" => "\/"/);
  assert.match(conf, /server.errorlog = "\/var\/log\/lighttpd-error.log"/);
  assert.match(conf, /server.username = "ramvm"\nserver.groupname = "ramvm"/);
  assert.not.ok(conf.includes(DIST + '/'), 'no build path left');
});
L('should make the node image\'s template HTTPS on 8006, the cluster on 8007 and plain HTTP on 80 a redirect only', () => {
  const conf = nodeLighttpdTemplate();
  assert.match(conf, /^server\.port = 8006$/m);
  assert.match(conf, /^ssl\.engine = "enable"\nssl\.pemfile = "\/etc\/ramvm\/priv\/node\.pem"$/m);
  assert.match(conf, /\$SERVER\["socket"\] == "0\.0\.0\.0:8007" \{\n  ssl\.engine = "enable"/);
  assert.match(conf, /\$SERVER\["socket"\] == "0\.0\.0\.0:80" \{\n  ssl\.engine = "disable"/);
  assert.ok(conf.includes('url.redirect = ( "^/(.*)$" => "https://%1:8006/$1" )'), conf.slice(-600));
});
L('should fail when a build path it expects is not in the config', () => {
  assert.throws(() => nodeLighttpdConfig('server.port = 8006\n', host), /expected/);
});
L('should fail on another port', () => {
  const conf = lighttpdConfig({ root: '/', listen: '0.0.0.0', port: 8007, node: NODE_NAME_PLACEHOLDER });
  assert.throws(() => nodeLighttpdConfig(conf, host), /port 8006/);
});
L.run();

const F = suite('fillNodeName');
F('should put the name wherever the placeholder stands', () => {
  assert.is(fillNodeName(`a ${NODE_NAME_PLACEHOLDER} b ${NODE_NAME_PLACEHOLDER}`, 'alpha'), 'a alpha b alpha');
});
F('should refuse a name that could break out of the quoted value', () => {
  assert.throws(() => fillNodeName('x', 'a"b'), /bad node name/);
});
F.run();

const R = suite('imageSizeReport');
R('should say within the goal at 72 MB and below', () => {
  const r = imageSizeReport([{ name: 'kernel', bytes: 8e6 }], ISO_GOAL_BYTES);
  assert.is(r.over, false);
  assert.is(r.overGoal, false);
  assert.match(r.text, /ISO\s+72.0 MB.*within the goal/);
});
R('should warn above the goal and fail above the limit', () => {
  assert.equal([imageSizeReport([], ISO_GOAL_BYTES + 1).overGoal, imageSizeReport([], ISO_GOAL_BYTES + 1).over], [true, false]);
  assert.is(imageSizeReport([], ISO_LIMIT_BYTES + 1).over, true);
  assert.match(imageSizeReport([], ISO_LIMIT_BYTES + 1).text, /OVER THE LIMIT/);
});
R('should name kernel + initrd when no ISO was built', () => {
  assert.match(imageSizeReport([], 60e6, false).text, /kernel \+ initrd \(no ISO built\)\s+60.0 MB/);
});
R('should show the unpacked size beside a compressed part', () => {
  assert.match(imageSizeReport([{ name: 'node.sfs', bytes: 26.9e6, rawBytes: 86.4e6 }], 1).text, /node.sfs\s+26.9 MB\s+\(86.4 MB unpacked\)/);
});
R('should judge the kiosk variant by its own budget', () => {
  const r = imageSizeReport([], 130e6, true, KIOSK_BUDGET);
  assert.equal([r.overGoal, r.over], [true, false]);
  assert.match(r.text, /goal 120.0 MB, limit 160.0 MB: over the goal, under the limit/);
  assert.is(imageSizeReport([], 161e6, true, KIOSK_BUDGET).over, true);
});
R('should show each row against the last build', () => {
  const text = imageSizeReport([{ name: 'kiosk.sfs', bytes: 10e6 }, { name: 'mesa.sfs', bytes: 20e6 }, { name: 'new.sfs', bytes: 1e6 }], 31e6, true, KIOSK_BUDGET,
    { 'kiosk.sfs': 10.02e6, 'mesa.sfs': 27.7e6, ISO: 38.7e6 }).text;
  assert.match(text, /kiosk.sfs\s+10.0 MB  = last build/);
  assert.match(text, /mesa.sfs\s+20.0 MB  -7.7 MB since the last build/);
  assert.match(text, /new.sfs\s+1.0 MB\n/, 'a new row has nothing to compare with');
  assert.match(text, /within the goal  -7.7 MB since the last build/);
});
R.run();

const K = suite('kernelPackage');
K('should read the versioned package from apt-cache depends', () => {
  assert.is(kernelPackage('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n'), 'linux-image-6.1.0-56-amd64');
});
K('should fail without one', () => {
  assert.throws(() => kernelPackage('linux-image-amd64\n'), /no linux-image/);
});
K.run();

const FA = suite('fillNodeAddress');
FA('should set the address the CGIs give other nodes', () => {
  assert.is(fillNodeAddress('a\n    "RAMVM_ADDRESS" => "",\nb', '10.0.0.1'), 'a\n    "RAMVM_ADDRESS" => "10.0.0.1",\nb');
});
FA('should refuse anything but an address, and a template without the empty setting', () => {
  assert.throws(() => fillNodeAddress('"RAMVM_ADDRESS" => ""', '1.2.3.4", "X'), /bad node address/);
  assert.throws(() => fillNodeAddress('"RAMVM_ADDRESS" => "1.1.1.1"', '10.0.0.1'), /no empty RAMVM_ADDRESS/);
});
FA.run();

const PG = suite('preparedGrubEntries');
PG('should name the node, its role and address, and find its data disk', () => {
  const e = preparedGrubEntries({ cluster: 'office', name: 'node2', index: 2, ip: { address: '10.0.0.12', prefix: 24 } });
  assert.equal(e[0], { title: 'ramvm cluster office: node node2 (member, 10.0.0.12/24)', params: ['datadisk=auto'] });
  assert.equal(e[1]!.params, ['datadisk=auto', 'ramvm.shell']);
});
PG.run();
