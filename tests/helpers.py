"""Plain helpers shared by the tests (fixtures live in conftest.py): nothing here is a test,
and no test module imports another."""
import json
import os
import os.path as osp


def write_test_result(work_dir, metrics, stamp='20240101_120000'):
    """What tools/test.py leaves in a work dir: <ts>/<ts>.json (+ the log beside it)."""
    os.makedirs(osp.join(work_dir, stamp, 'vis_data'), exist_ok=True)
    with open(osp.join(work_dir, stamp, stamp + '.json'), 'w') as f:
        json.dump(dict(metrics, data_time=0.01, time=0.2), f)
    open(osp.join(work_dir, stamp, stamp + '.log'), 'w').close()


def write_protocol_run(root, detector, method, dataset, shot, seed, ap, base_ap):
    """A run as tools/fewshot_protocol.py leaves it: the dumped config names it, the
    retention test lies in <work_dir>/retention."""
    leaf = 'zero-shot' if method == 'zero-shot' else (
        f'full_seed{seed}' if shot == 0 else f'shot{shot}_seed{seed}')
    work_dir = osp.join(root, detector, method, dataset, leaf)
    write_test_result(work_dir, {'coco/bbox_mAP': ap})
    write_test_result(osp.join(work_dir, 'retention'), {'coco/bbox_mAP': base_ap})
    with open(osp.join(work_dir, 'cfg.py'), 'w') as f:
        f.write(f"odinw_dataset = '{dataset}'\nodinw_suite = 'shapeworld'\n"
                f"odinw_shot = {shot}\nodinw_seed = {seed}\n"
                f"detector = '{detector}'\nmethod = '{method}'\n")
    return work_dir
