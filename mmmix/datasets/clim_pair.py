"""Dataset wrapper returning an anchor and a selected positive (CLIM)."""
import copy
from typing import Union

import torch
from torch.utils.data import Dataset

from mmmix.ops.positive_selection import PositiveTable, draw_positives
from mmmix.registry import DATASETS


@DATASETS.register_module()
class CLIMPairDataset(Dataset):
    """Wrap a dataset so that item ``i`` holds the views of ``i`` and of one
    of its positives.

    The positive table (see :class:`~mmmix.ops.PositiveTable`) lives in
    shared-memory tensors allocated here, before any dataloader worker
    starts, and :meth:`set_table` overwrites them in place: workers forked
    once (``persistent_workers=True``) see every later table. Reassigning a
    Python attribute in the main process would not reach them; that is why
    the table is never replaced, only written into.

    Each access draws one positive uniformly from the anchor's candidates
    (torch's RNG, seeded per worker). Until a table is set, and for an anchor
    with no candidate (a singleton cluster), the positive is the anchor
    itself (another independent draw of its views), with ``has_pos=False``.

    The item's ``inputs`` are the anchor's views followed by the positive's;
    its data sample is the anchor's with ``pos_idx`` and ``has_pos`` added.

    Args:
        dataset (Dataset | dict): the dataset (or its config) whose pipeline
            returns a list of views (``MultiResolutionViews`` or
            ``MultiView``) and ``PackInputs``.
        pool_size (int): the largest number of candidates per anchor in a
            pooled table (CLIM keeps 10). Tables of whole clusters or of the
            whole dataset need at most ``len(dataset)`` members, which is
            always allocated. Defaults to 10.
    """

    def __init__(self, dataset: Union[Dataset, dict], pool_size: int = 10):
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f'pool_size must be an int >= 1, got '
                             f'{pool_size!r}')
        self.dataset = dataset
        self.pool_size = pool_size
        n = len(dataset)
        if n < 2:
            raise ValueError(f'CLIMPairDataset needs >= 2 samples, got {n}')
        self._members = torch.zeros(n * pool_size, dtype=torch.long)
        self._start = torch.zeros(n, dtype=torch.long)
        self._count = torch.zeros(n, dtype=torch.long)
        self._self_pos = torch.full((n, ), -1, dtype=torch.long)
        self._version = torch.zeros(1, dtype=torch.long)
        for t in (self._members, self._start, self._count, self._self_pos,
                  self._version):
            t.share_memory_()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(getattr(self.dataset, 'metainfo', {}))

    def __len__(self) -> int:
        return len(self.dataset)

    def full_init(self):
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    @property
    def version(self) -> int:
        """How many tables have been set (0: none yet)."""
        return int(self._version[0])

    @property
    def table(self) -> PositiveTable:
        """A view of the current table (members cut to their used size)."""
        used = int((self._start + self._count).max()) if self.version else 0
        return PositiveTable(self._members[:used], self._start, self._count,
                             self._self_pos)

    def set_table(self, table: PositiveTable) -> None:
        """Write ``table`` into the shared tensors, in place."""
        n = len(self)
        members, start, count, self_pos = (torch.as_tensor(t).long().cpu()
                                           for t in table)
        for name, t in (('start', start), ('count', count),
                        ('self_pos', self_pos)):
            if t.shape != (n, ):
                raise ValueError(f'table.{name} must have shape ({n},) (the '
                                 f'dataset size), got {tuple(t.shape)}')
        if members.numel() > self._members.numel():
            raise ValueError(
                f'table.members has {members.numel()} entries, more than the '
                f'{self._members.numel()} allocated (len(dataset) * '
                f'pool_size={self.pool_size}): raise pool_size')
        if members.numel() and (members.min() < 0 or members.max() >= n):
            raise ValueError(f'table.members must index [0, {n}), got values '
                             f'in [{int(members.min())}, '
                             f'{int(members.max())}]')
        if (start + count > members.numel()).any():
            raise ValueError('table.start + table.count exceeds '
                             f'len(table.members)={members.numel()}')
        self._members[:members.numel()] = members
        self._start.copy_(start)
        self._count.copy_(count)
        self._self_pos.copy_(self_pos)
        self._version += 1

    def clear_table(self) -> None:
        """Back to the self-positive fallback."""
        self._count.zero_()
        self._self_pos.fill_(-1)
        self._version.zero_()

    def __getitem__(self, idx: int) -> dict:
        anchor = self.dataset[idx]
        pos, has_pos = draw_positives(
            PositiveTable(self._members, self._start, self._count,
                          self._self_pos), torch.tensor([idx]))
        pos_idx = int(pos[0])
        positive = self.dataset[pos_idx]
        inputs_a, inputs_p = anchor['inputs'], positive['inputs']
        if not isinstance(inputs_a, list):
            inputs_a, inputs_p = [inputs_a], [inputs_p]
        sample = anchor['data_samples']
        sample.set_metainfo(dict(pos_idx=pos_idx, has_pos=bool(has_pos[0])))
        return dict(inputs=inputs_a + inputs_p, data_samples=sample)
