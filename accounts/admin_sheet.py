"""The deliveries sheet: today's and tomorrow's deliveries on one admin page, each with "Delivered"
and "Move", and the couriers' files (.xlsx, CSV) of either day. DeliveryAdmin (accounts.admin)
mixes it in; the rules are accounts.delivery_actions', the columns accounts.courier_file's."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import re_path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import courier_file, delivery_actions, formatting, ledger
from accounts.models import Delivery

DAYS = {"today": 0, "tomorrow": 1}


def mark_delivered(model_admin: admin.ModelAdmin, request: HttpRequest, delivery: Delivery) -> bool | None:
    """Mark one delivery delivered (`delivery_complete`): True when done now, False when it already
    was, None when refused, with the reason told to staff. Done now goes into the admin's history
    (the delivery's «История», the index's «Последние действия»)."""
    try:
        done = delivery_actions.delivery_complete(delivery_id=delivery.pk)
    except ledger.InsufficientBalance as e:
        model_admin.message_user(
            request,
            gettext(
                "Not marked: %(customer)s has %(balance)s, the bouquet costs %(price)s. "
                "Top up or correct the balance first."
            )
            % {
                "customer": delivery.profile,
                "balance": formatting.rubles(e.balance),
                "price": formatting.rubles(delivery.price),
            },
            messages.WARNING,
        )
        return None
    except delivery_actions.DeliveryError as e:
        model_admin.message_user(request, f"{delivery}: {e}", messages.WARNING)
        return None
    if done:
        model_admin.log_change(request, delivery, gettext("Marked delivered."))
    return done


class SheetActionForm(forms.Form):
    """One row's button: which delivery, what to do, and the new day of a move."""

    delivery = forms.ModelChoiceField(queryset=Delivery.objects.select_related("profile__user"))
    action = forms.ChoiceField(choices=[("deliver", _("Delivered")), ("move", _("Move"))])
    delivery_on = forms.DateField(required=False, input_formats=["%Y-%m-%d", "%d.%m.%Y"])


class DeliverySheetMixin:
    def get_urls(self):
        return [
            re_path(r"^sheet/$", self.admin_site.admin_view(self.sheet_view), name="accounts_delivery_sheet"),
            re_path(
                rf"^sheet/(?P<day>{'|'.join(DAYS)})\.(?P<extension>xlsx|csv)$",
                self.admin_site.admin_view(self.file_view),
                name="accounts_delivery_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, day: str, extension: str) -> HttpResponse:
        """The couriers' file of today or tomorrow: the scheduled deliveries, by address."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        on = timezone.localdate() + datetime.timedelta(days=DAYS[day])
        deliveries = courier_file.deliveries_of(on)
        if extension == "xlsx":
            content_type = courier_file.XLSX_TYPE
            content = courier_file.xlsx_bytes(deliveries, title=date_format(on, "d.m.Y"))
        else:
            content_type, content = courier_file.CSV_TYPE, courier_file.csv_bytes(deliveries)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{courier_file.file_name(on, extension)}"'
        return response

    def sheet_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the sheet; POST (CSRF-checked by admin_view, change permission): one row's button,
        then back to the sheet as it was (cancelled rows shown or not)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            self._sheet_act(request)
            return HttpResponseRedirect(request.get_full_path())
        today = timezone.localdate()
        with_cancelled = request.GET.get("cancelled") == "1"
        deliveries = list(courier_file.sheet_deliveries(today=today, with_cancelled=with_cancelled))
        days = []
        for key, offset in DAYS.items():
            on = today + datetime.timedelta(days=offset)
            rows = [
                {"delivery": d, "cells": courier_file.row(d), "is_due": d.is_due(today=today)}
                for d in deliveries
                if d.delivery_on == on
            ]
            days.append({"key": key, "on": on, "rows": rows, "next_day": on + datetime.timedelta(days=1)})
        cancelled = Delivery.objects.filter(
            delivery_on__range=(today, today + datetime.timedelta(days=1)), status=Delivery.Status.CANCELLED
        ).count()
        context = {
            **self.admin_site.each_context(request),
            "is_nav_sidebar_enabled": False,  # the sheet's nine columns need the width
            "title": gettext("Deliveries for today and tomorrow"),
            "opts": self.opts,
            "days": days,
            "today": today,
            "with_cancelled": with_cancelled,
            "cancelled": cancelled,
            "can_change": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/accounts/delivery/sheet.html", context)

    def _sheet_act(self, request: HttpRequest) -> None:
        form = SheetActionForm(request.POST)
        if not form.is_valid():
            # A date typed wrong is said as such (the browser's date field sends ISO; a hand-typed
            # "31.02.2026" does not parse); anything else means the row is not there.
            wrong_day = set(form.errors) == {"delivery_on"}
            reason = (
                gettext("Nothing done: %(error)s") % {"error": " ".join(form.errors["delivery_on"])}
                if wrong_day
                else gettext("Nothing done: the row was not found.")
            )
            self.message_user(request, reason, messages.ERROR)
            return
        delivery, action = form.cleaned_data["delivery"], form.cleaned_data["action"]
        if action == "deliver":
            done = mark_delivered(self, request, delivery)
            if done is not None:
                message = (
                    gettext("The delivery of %(customer)s on %(day)s is marked delivered.")
                    if done
                    else gettext("The delivery of %(customer)s on %(day)s was already delivered.")
                )
                day = date_format(delivery.delivery_on, "j E")
                self.message_user(request, message % {"customer": delivery.profile, "day": day})
            return
        new_date = form.cleaned_data["delivery_on"]
        if new_date is None:
            self.message_user(request, gettext("Choose the day to move the delivery to."), messages.WARNING)
            return
        try:
            delivery_actions.delivery_move(
                profile=delivery.profile, delivery_id=delivery.pk, new_date=new_date, by_staff=True
            )
        except delivery_actions.DeliveryError as e:
            self.message_user(request, f"{delivery}: {e}", messages.WARNING)
            return
        self.log_change(
            request,
            delivery,
            gettext("Moved from %(day)s to %(new_day)s.")
            % {"day": date_format(delivery.delivery_on, "j E"), "new_day": date_format(new_date, "j E")},
        )
        self.message_user(
            request,
            gettext("The delivery of %(customer)s is moved from %(day)s to %(new_day)s.")
            % {
                "customer": delivery.profile,
                "day": date_format(delivery.delivery_on, "j E"),
                "new_day": date_format(new_date, "j E"),
            },
            messages.SUCCESS,
        )
