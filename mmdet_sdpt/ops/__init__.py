"""Operators: cheaper backward passes through frozen modules."""
from .frozen_dcn import (InputGradOnlyModulatedDeformConv2d, modulated_deform_conv2d_torch,
                         use_input_grad_only_dcn)

__all__ = ['InputGradOnlyModulatedDeformConv2d', 'modulated_deform_conv2d_torch',
           'use_input_grad_only_dcn']
