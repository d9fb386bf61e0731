# ReFrame test: h5doctor on every node of a partition. Each node runs `h5doctor check --json` on the
# directories jobs write to; the test fails when any node has an error finding, and the failure names
# the finding's slug and the node:
#
#   reframe -C site-config.py -c contrib/reframe/h5doctor_check.py -r \
#       -S h5doctor_check.dirs=/lus/scratch -S h5doctor_check.num_nodes=4
#
# Variables: `dirs` (colon-separated directories, default the stage directory), `num_nodes` (nodes, one
# task each), `h5doctor` (the binary). ReFrame is on PyPI as reframe-hpc.

import json

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import run_before, sanity_function, variable


@rfm.simple_test
class h5doctor_check(rfm.RunOnlyRegressionTest):
    descr = 'h5doctor: will HDF5 I/O work on these nodes, in these directories?'
    valid_systems = ['*']
    valid_prog_environs = ['*']
    dirs = variable(str, value='')
    num_nodes = variable(int, value=1)
    h5doctor = variable(str, value='h5doctor')
    tags = {'hdf5', 'io', 'health'}

    @run_before('run')
    def set_command(self):
        self.num_tasks = self.num_nodes
        self.num_tasks_per_node = 1
        targets = [d for d in self.dirs.split(':') if d] or [self.stagedir]
        # One JSON report per node, written by the node itself (srun's stdout interleaves).
        self.executable = 'sh'
        dir_args = ' '.join(f'--dir {d}' for d in targets)
        self.executable_opts = [
            '-c',
            f"'{self.h5doctor} check --json --no-default-dirs --no-default-pythons "
            f"--only locking --only hdf5 {dir_args} > h5doctor-$(hostname).json; echo h5doctor-exit=$?'",
        ]

    @sanity_function
    def no_error_findings(self):
        exits = sn.extractall(r'h5doctor-exit=(\d+)', self.stdout, 1, int)
        return sn.all([
            sn.assert_eq(sn.count(exits), self.num_tasks, msg='{0} of {1} nodes reported'),
            sn.assert_false(sn.defer(self._errors()), msg='h5doctor error findings: {0}'),
        ])

    def _errors(self):
        """`slug on node: title` for every error finding of every node ('' when none)."""
        import glob
        import os
        found = []
        for path in sorted(glob.glob(os.path.join(self.stagedir, 'h5doctor-*.json'))):
            node = os.path.basename(path)[len('h5doctor-'):-len('.json')]
            try:
                with open(path) as f:
                    report = json.load(f)
            except (OSError, ValueError) as e:
                found.append(f'unreadable report of {node}: {e}')
                continue
            for finding in report.get('findings', []):
                if finding.get('severity') == 'error':
                    found.append(f"{finding['slug']} on {node}: {finding['title']}")
        return '; '.join(found)
